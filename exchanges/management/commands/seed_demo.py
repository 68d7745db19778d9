from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.models import Territory, User
from accounts.roles import Role
from beneficiaries.demo import DEMO_COMMUNES, fake_people
from beneficiaries.models import Beneficiary
from orientations.demo import seed_orientations

DEMO_PASSWORD = "liaison-rsa-demo"  # noqa: S105 - printed on purpose, demo only
DEMO_USERS = [
    ("social", Role.SOCIAL_WORKER, "Camille", "Travailleuse"),
    ("orientation", Role.ORIENTATION_OFFICER, "Dominique", "Orienteur"),
    ("admin", Role.ADMIN, "Claude", "Administrateur"),
]


class Command(BaseCommand):
    help = "Crée les comptes de démonstration de chaque rôle et des bénéficiaires fictifs (relançable)."

    def add_arguments(self, parser):
        parser.add_argument("--count", type=int, default=300, help="nombre de bénéficiaires fictifs")
        parser.add_argument("--force", action="store_true", help="autoriser en production (à éviter)")

    def handle(self, *args, **options):
        if settings.PRODUCTION and not options["force"]:
            raise CommandError("seed_demo crée des comptes de démonstration : refusé en production.")
        with transaction.atomic():
            for username, role, first_name, last_name in DEMO_USERS:
                user, created = User.objects.get_or_create(
                    username=username, defaults={"first_name": first_name, "last_name": last_name}
                )
                user.role = role
                if created:
                    user.set_password(DEMO_PASSWORD)
                user.save()
                if role == Role.SOCIAL_WORKER:
                    # A social worker sees only the beneficiaries of their territories.
                    territory, _ = Territory.objects.get_or_create(
                        name="Territoire de démonstration", defaults={"communes": " ".join(DEMO_COMMUNES)}
                    )
                    user.territories.add(territory)
            known = set(Beneficiary.objects.values_list("nir_key", flat=True))
            new = []
            for person in fake_people(options["count"]):
                if person["nir"][:13] in known:
                    continue
                beneficiary = Beneficiary(**person)
                beneficiary.refresh_keys()
                new.append(beneficiary)
            Beneficiary.objects.bulk_create(new)
            oriented = seed_orientations()
        self.stdout.write(f"{len(new)} bénéficiaires de démonstration ajoutés, {oriented} orientés.")
        self.stdout.write(f"Comptes de démonstration (mot de passe : {DEMO_PASSWORD}) :")
        for username, role, *_ in DEMO_USERS:
            self.stdout.write(f"  {username:12} {role.label}")

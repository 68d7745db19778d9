import getpass
import sys

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.models import Territory, User
from accounts.roles import Role
from accounts.territories import is_commune_code


def territory_for(code: str) -> Territory:
    """A territory by name, or the one-commune territory of an INSEE code (created on demand)."""
    code = code.strip()
    territory = Territory.objects.filter(name=code).first()
    if territory is not None:
        return territory
    if is_commune_code(code):
        territory, _ = Territory.objects.get_or_create(name=code.upper(), defaults={"communes": code.upper()})
        return territory
    raise CommandError(f"Territoire inconnu : « {code} » n'est ni un territoire existant ni un code INSEE.")


class Command(BaseCommand):
    help = (
        "Crée ou modifie un compte. Le mot de passe est lu sur l'entrée standard "
        "(--password-stdin), jamais sur la ligne de commande : il ne reste ni dans "
        "l'historique du shell ni dans la liste des processus."
    )

    def add_arguments(self, parser):
        parser.add_argument("username", help="identifiant de connexion")
        parser.add_argument("--role", required=True, choices=Role.values, help="rôle du compte")
        parser.add_argument(
            "--password-stdin",
            action="store_true",
            help="lire le mot de passe sur l'entrée standard (masqué s'il est tapé au clavier)",
        )
        parser.add_argument("--first-name", default=None, help="prénom")
        parser.add_argument("--last-name", default=None, help="nom")
        parser.add_argument("--email", default=None, help="adresse électronique (alertes des échanges)")
        parser.add_argument(
            "--territory",
            action="append",
            default=None,
            metavar="CODE",
            help=(
                "Territoire du compte (répétable) : le nom d'un territoire existant, ou un code INSEE "
                "de commune, qui désigne un territoire d'une seule commune (créé au besoin). "
                "Remplace les territoires existants du compte. Un administrateur n'en a pas : "
                "il voit tout le Département."
            ),
        )

    def handle(self, *args, **options):
        if options["role"] == Role.ADMIN and options["territory"]:
            raise CommandError(
                "Un administrateur voit tout le Département : les territoires ne le limitent pas "
                "(il gère les comptes). Retirez --territory, ou choisissez un autre rôle."
            )
        password = None
        if options["password_stdin"]:
            if sys.stdin.isatty():
                # Typed at a terminal (docker compose run allocates one): not echoed.
                password = getpass.getpass("Mot de passe : ")
            else:
                password = sys.stdin.readline().rstrip("\r\n")
            if not password:
                raise CommandError("Aucun mot de passe lu sur l'entrée standard.")

        with transaction.atomic():
            user, created = User.objects.get_or_create(username=options["username"])
            user.role = options["role"]
            for field in ("first_name", "last_name", "email"):
                if options[field] is not None:
                    setattr(user, field, options[field])
            if password is not None:
                try:
                    validate_password(password, user)
                except ValidationError as exc:
                    raise CommandError(" ".join(exc.messages)) from None
                user.set_password(password)
            elif created:
                user.set_unusable_password()
            user.save()
            if options["territory"] is not None:
                user.territories.set([territory_for(code) for code in options["territory"]])
            if user.role == Role.ADMIN and user.territories.exists():
                # Become an admin: the territories no longer limit anything (beneficiaries.scoping).
                user.territories.clear()
                self.stdout.write(
                    "Administrateur : ses territoires sont retirés (il voit tout le Département)."
                )

        verb = "créé" if created else "mis à jour"
        self.stdout.write(f"Compte {user.username} {verb} (rôle : {user.get_role_display()}).")
        territories = ", ".join(t.name for t in user.territories.all())
        if territories:
            self.stdout.write(f"Territoires : {territories}.")
        if created and password is None:
            self.stdout.write("Aucun mot de passe défini : relancez avec --password-stdin.")

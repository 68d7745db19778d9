import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from accounts.roles import Role
from config.private_files import OutputExists, create_private_text
from rights import end_convention


class Command(BaseCommand):
    help = (
        "Fin de la convention : détruit toutes les données reçues de France Travail (situations, suivis, "
        "évènements, rejets, rapprochements, fichiers d'échange, personnes connues seulement de France "
        "Travail) et établit un certificat de destruction (sans donnée personnelle), gardé au journal "
        "d'audit. Sans --apply : simulation, rien n'est détruit."
    )

    def add_arguments(self, parser):
        parser.add_argument("--apply", action="store_true", help="détruire réellement (sinon simulation)")
        parser.add_argument(
            "--confirm",
            default="",
            help=f"avec --apply, la phrase de confirmation exacte : « {end_convention.CONFIRMATION} »",
        )
        parser.add_argument("--by", help="avec --apply, l'identifiant de l'administrateur qui fait détruire")
        parser.add_argument(
            "--certificate", help="nouveau fichier JSON où écrire le certificat (jamais écrasé)"
        )
        parser.add_argument("--json", action="store_true", help="résultat en JSON")

    def handle(self, *args, **options):
        if not options["apply"]:
            result = end_convention.survey()
            if options["json"]:
                self.stdout.write(
                    json.dumps({"applied": False, "tables": result.counts(), "files": result.files})
                )
                return
            self.stdout.write("Simulation (rien n'est détruit ; --apply --confirm … --by … pour détruire) :")
            for label, count in result.counts().items():
                self.stdout.write(f"  {label} : {count}")
            return
        if options["confirm"] != end_convention.CONFIRMATION:
            raise CommandError(
                f"Confirmation manquante ou inexacte : --confirm « {end_convention.CONFIRMATION} » "
                "(rien n'est détruit)."
            )
        user = User.objects.filter(username=options["by"] or "", role=Role.ADMIN, is_active=True).first()
        if user is None:
            raise CommandError("--by : identifiant d'un administrateur actif requis (rien n'est détruit).")
        output = Path(options["certificate"]) if options["certificate"] else None
        if output is not None and output.exists():
            raise CommandError(
                f"Le fichier {output} existe déjà : choisissez un nouveau nom (rien n'est détruit)."
            )
        result, certificate = end_convention.destroy(user)
        text = json.dumps(certificate, ensure_ascii=False, indent=2, sort_keys=True)
        if output is not None:
            try:
                with create_private_text(output) as handle:
                    handle.write(text)
            except OutputExists:
                raise CommandError(
                    f"Le fichier {output} existe déjà (le certificat est au journal d'audit)."
                ) from None
        self.stdout.write(text if options["json"] else f"Destruction effectuée. Certificat :\n{text}")

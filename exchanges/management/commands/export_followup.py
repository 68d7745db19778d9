from django.core.management.base import BaseCommand, CommandError

import audit
from config.private_files import OutputExists, create_private_text
from exchanges.followup_export import write_csv


class Command(BaseCommand):
    help = (
        "Exporte le suivi France Travail de chaque bénéficiaire en CSV (« ; », UTF-8, dates ISO) : "
        "NIR, noms, dates de naissance de tout le Département. L'export est inscrit au journal d'audit."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--output", help="nouveau fichier CSV à écrire (par défaut : la sortie standard) ; jamais écrasé"
        )

    def handle(self, *args, **options):
        output = options["output"]
        if output:
            # Readable by the service account only, as export_person's: it holds every NIR.
            try:
                out = create_private_text(output, encoding="utf-8-sig", newline="")
            except OutputExists:
                raise CommandError(
                    f"Le fichier {output} existe déjà : choisissez un nouveau nom (l'export n'écrase rien)."
                ) from None
            with out:
                count = write_csv(out)
            self.stderr.write(f"{count} bénéficiaires exportés dans {output}")
        else:
            count = write_csv(self.stdout)
        # From a terminal, nobody is signed in: the entry says the command did it.
        audit.log(None, audit.Action.EXPORTED, object_type="followup_csv", rows=count, origin="commande")

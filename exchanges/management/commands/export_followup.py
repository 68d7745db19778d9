import os

from django.core.management.base import BaseCommand

import audit
from exchanges.followup_export import write_csv


class Command(BaseCommand):
    help = (
        "Exporte le suivi France Travail de chaque bénéficiaire en CSV (« ; », UTF-8, dates ISO) : "
        "NIR, noms, dates de naissance de tout le Département. L'export est inscrit au journal d'audit."
    )

    def add_arguments(self, parser):
        parser.add_argument("--output", help="fichier CSV à écrire (par défaut : la sortie standard)")

    def handle(self, *args, **options):
        output = options["output"]
        if output:
            # Readable by the service account only, as export_person's: it holds every NIR.
            descriptor = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "w", encoding="utf-8-sig", newline="") as out:
                count = write_csv(out)
            self.stderr.write(f"{count} bénéficiaires exportés dans {output}")
        else:
            count = write_csv(self.stdout)
        # From a terminal, nobody is signed in: the entry says the command did it.
        audit.log(None, audit.Action.EXPORTED, object_type="followup_csv", rows=count, origin="commande")

import json

from django.core.management.base import BaseCommand, CommandError

from beneficiaries.csv_import import CSVFileError
from orientations.csv_import import import_orientations


class Command(BaseCommand):
    help = "Load past orientation decisions from a CSV export (UTF-8 or Latin-1, ';' or ',')."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--json", action="store_true", help="print a JSON summary")
        parser.add_argument("--dry-run", action="store_true", help="report without saving")

    def handle(self, *args, **options):
        try:
            summary = import_orientations(options["file"], dry_run=options["dry_run"])
        except FileNotFoundError:
            raise CommandError(f"{options['file']} : fichier introuvable") from None
        except CSVFileError as exc:
            raise CommandError(f"{options['file']} : {exc}") from None

        if options["json"]:
            self.stdout.write(json.dumps({"file": options["file"], **summary.as_dict()}, ensure_ascii=False))
            return
        self.stdout.write(
            f"{summary.rows} lignes : {summary.created} décisions créées, {summary.unchanged} déjà connues, "
            f"{len(summary.errors)} rejetées ; {summary.referent_bodies_created} organismes et "
            f"{summary.correspondents_created} correspondants créés."
        )
        for error in summary.errors:
            self.stdout.write(f"  ligne {error.line}, {error.field} : {error.message}")

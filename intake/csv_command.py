"""The shared shape of the commands that load a CSV export (beneficiaries, orientations)."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from intake.beneficiary_csv import CSVFileError


class CSVImportCommand(BaseCommand):
    """`FILE [--json] [--dry-run]`; subclasses say how to import and how to summarise."""

    def import_file(self, path: str, *, dry_run: bool):
        raise NotImplementedError

    def summary_line(self, summary) -> str:
        raise NotImplementedError

    def add_arguments(self, parser):
        parser.add_argument(
            "file", help="le fichier CSV exporté (« ; » ou « , » ; UTF-8, Windows-1252 ou Latin-1)"
        )
        parser.add_argument("--json", action="store_true", help="écrire le bilan en JSON")
        parser.add_argument(
            "--dry-run", action="store_true", help="simulation : tout vérifier, ne rien enregistrer"
        )

    def handle(self, *args, **options):
        try:
            summary = self.import_file(options["file"], dry_run=options["dry_run"])
        except FileNotFoundError:
            raise CommandError(f"{options['file']} : fichier introuvable") from None
        except CSVFileError as exc:
            raise CommandError(f"{options['file']} : {exc}") from None

        if options["json"]:
            self.stdout.write(json.dumps({"file": options["file"], **summary.as_dict()}, ensure_ascii=False))
            return
        # A simulation reads like the real thing otherwise: it says so first.
        prefix = "[simulation, rien n'est enregistré] " if options["dry_run"] else ""
        self.stdout.write(prefix + self.summary_line(summary))
        for error in summary.errors:
            self.stdout.write(f"  ligne {error.line}, {error.field} : {error.message}")

from intake.csv_command import CSVImportCommand
from intake.decision_csv import import_orientations


class Command(CSVImportCommand):
    help = "Charge les décisions d'orientation passées depuis un export CSV (docs/orientations.md)."

    def import_file(self, path: str, *, dry_run: bool):
        return import_orientations(path, dry_run=dry_run)

    def summary_line(self, summary) -> str:
        return (
            f"{summary.rows} lignes : {summary.created} décisions créées, {summary.unchanged} déjà connues, "
            f"{len(summary.errors)} rejetées ; {summary.referent_bodies_created} organismes et "
            f"{summary.correspondents_created} correspondants créés."
        )

from intake.beneficiary_csv import import_beneficiaries
from intake.csv_command import CSVImportCommand


class Command(CSVImportCommand):
    help = "Charge ou met à jour les bénéficiaires depuis l'export CSV de l'outil du Département."

    def import_file(self, path: str, *, dry_run: bool):
        return import_beneficiaries(path, dry_run=dry_run)

    def summary_line(self, summary) -> str:
        return (
            f"{summary.rows} lignes : {summary.created} créées, {summary.updated} mises à jour, "
            f"{summary.unchanged} inchangées, {len(summary.errors)} rejetées ; "
            f"{summary.referents} référents attribués."
        )

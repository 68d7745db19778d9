from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from config.private_files import OutputExists, create_private
from exchanges import spreadsheet, tracking


def write_new(path: Path, content: bytes) -> None:
    """Create `path` (0600, never an existing file nor through a link) and write `content`."""
    try:
        handle = create_private(path)
    except OutputExists:
        raise CommandError(
            f"Le fichier {path} existe déjà : choisissez un nouveau nom (rien n'est écrasé)."
        ) from None
    with handle:
        handle.write(content)


def output_format(path: Path) -> str:
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in spreadsheet.FORMATS:
        raise CommandError(f"{path} : extension .ods ou .csv attendue (le format suit l'extension).")
    return fmt


class Command(BaseCommand):
    help = (
        "Tableau de suivi mensuel pour le comité de pilotage : fichiers PECGM reçus, rapprochements, "
        "fichiers CGPEM produits et déposés, échecs et alertes du mois. Aucune donnée personnelle. "
        "Format selon l'extension du fichier : .ods (OpenDocument) ou .csv."
    )

    def add_arguments(self, parser):
        parser.add_argument("--month", required=True, help="mois du rapport, AAAA-MM (par exemple 2025-01)")
        parser.add_argument("--output", required=True, help="nouveau fichier .ods ou .csv (jamais écrasé)")

    def handle(self, *args, **options):
        try:
            month = tracking.parse_month(options["month"])
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        output = Path(options["output"])
        fmt = output_format(output)
        report = tracking.month_report(month)
        write_new(output, spreadsheet.render(tracking.sheets(report), fmt))
        self.stdout.write(f"Tableau de suivi de {report.label} écrit dans {output}.")

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from exchanges.models import SUCCESSFUL_STATUSES, ImportStatus
from exchanges.pecgm_import import ImportBusy, after_imports, import_pecgm


class Command(BaseCommand):
    help = (
        "Importe un fichier PECGM de France Travail. Code de sortie 0 : importé ou déjà importé "
        "(doublon) ; 1 : fichier refusé ; 3 : un autre import est en cours."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="le fichier PECGM (XML, ISO-8859-1)")
        parser.add_argument("--json", action="store_true", help="écrire le bilan en JSON")
        parser.add_argument(
            "--dry-run", action="store_true", help="simulation : tout vérifier, ne rien enregistrer"
        )
        parser.add_argument(
            "--force-small-stock",
            action="store_true",
            help="importer un stock mensuel bien plus petit que le précédent (PECGM_MIN_STOCK_RATIO), "
            "après avoir vérifié le fichier avec France Travail",
        )

    def handle(self, *args, **options):
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"{path} : fichier introuvable")
        try:
            run = import_pecgm(
                path,
                started_by="command",
                dry_run=options["dry_run"],
                counts_computed_next=True,
                force_small_stock=options["force_small_stock"],
            )
        except ImportBusy as exc:
            raise CommandError(str(exc), returncode=3) from None

        summary = run.summary()
        if options["json"]:
            self.stdout.write(json.dumps(summary, ensure_ascii=False))
        else:
            self.stdout.write(self.describe(run, summary, dry_run=options["dry_run"]))
        if run.status == ImportStatus.REJECTED:
            raise CommandError(f"{run.file_name} : fichier rejeté, rien n'a été modifié.", returncode=1)
        if run.status in SUCCESSFUL_STATUSES and not options["dry_run"]:
            after_imports(run.imported)

    def describe(self, run, summary, *, dry_run: bool) -> str:
        prefix = "[simulation] " if dry_run else ""
        if run.status == ImportStatus.DUPLICATE:
            return f"{prefix}{run.file_name} : déjà importé, rien n'a été modifié."
        lines = [
            f"{prefix}{run.file_name} : {run.get_status_display()} — données au {summary['reference_date']}",
            f"  {run.records} enregistrements, {run.imported} importés, {run.rejected_records} rejetés",
            f"  rapprochés : {run.matched} (NIR {run.matched_nir}, identifiant France Travail "
            f"{run.matched_ft_identifier}, n° CAF/MSA {run.matched_caf_msa}, nom {run.matched_name}, "
            f"décision antérieure {run.matched_confirmed})",
            f"  créés : {run.created}, à vérifier : {run.review}, avertissements : {run.warnings}",
        ]
        if run.error_message:
            lines.append(f"  {run.error_message}")
        for error in summary["errors"]:
            if error["record"] is not None:
                lines.append(f"  enregistrement {error['record']}, {error['field']} : {error['message']}")
        return "\n".join(lines)

"""Fetch and import the waiting PECGM files now, without Celery (cron, operators)."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from exchanges import transfers
from exchanges.runs import Direction, ExchangeRun, RunStatus, run_summary


class Command(BaseCommand):
    help = (
        "Récupère sur le serveur d'échanges les fichiers PECGM pas encore importés et les importe, "
        "dans l'ordre des dates de référence. Code retour 0 si tout va bien, 1 en cas d'échec, "
        "3 si un autre échange du même type est déjà en cours (il fait le travail)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="affiche le résumé en JSON")
        parser.add_argument(
            "--periodicity",
            action="append",
            choices=["M", "H", "Q"],
            help="ne récupérer que ces périodicités (répétable ; défaut : toutes)",
        )

    def handle(self, *args, **options):
        run = ExchangeRun.objects.create(
            direction=Direction.FETCH,
            started_by="command",
            periodicities="".join(options["periodicity"] or []),
        )
        run_command(self, run, options["json"])


def run_command(command: BaseCommand, run: ExchangeRun, as_json: bool) -> None:
    """Shared by fetch_pecgm and deposit_cgpem: execute, print, set the exit status."""
    busy = False
    try:
        transfers.execute(run)
    except transfers.RetryLater as exc:
        # No retry here: cron (or the operator) runs the command again. Another run
        # going (the worker's) is no failure: it does the work, and nobody is alerted.
        transfers.give_up(run, exc)
        busy = exc.busy
    run.refresh_from_db()
    summary = run_summary(run)
    if as_json:
        command.stdout.write(json.dumps(summary, ensure_ascii=False))
    else:
        command.stdout.write(f"{run} — {summary['counts']}")
        for entry in summary["files"]:
            command.stdout.write(
                f"  {entry['name']} : {entry.get('status', '')} {entry.get('message', '')}".rstrip()
            )
    if busy:
        raise CommandError(run.error_message, returncode=3)
    if run.status != RunStatus.SUCCEEDED:
        raise CommandError(run.error_message or str(run), returncode=1)

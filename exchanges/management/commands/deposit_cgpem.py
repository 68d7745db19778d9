"""Generate (once) and deposit the CGPEM file of a period now, without Celery."""

from __future__ import annotations

from datetime import date

from django.core.management.base import BaseCommand, CommandError

from exchanges.management.commands.fetch_pecgm import run_command
from exchanges.runs import Direction, ExchangeRun


class Command(BaseCommand):
    help = (
        "Génère (une seule fois par période) le fichier CGPEM et le dépose sur le serveur d'échanges. "
        "Par défaut : le stock mensuel du mois dernier. Code retour 0 si déposé (ou déjà déposé), "
        "3 si un autre dépôt est déjà en cours, 1 sinon."
    )

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="affiche le résumé en JSON")
        parser.add_argument("--periodicity", choices=["M", "H", "Q"], default="M")
        parser.add_argument("--date", help="fin de la période, AAAA-MM-JJ (défaut : mois dernier ou hier)")

    def handle(self, *args, **options):
        period_end = None
        if options["date"]:
            try:
                period_end = date.fromisoformat(options["date"])
            except ValueError:
                raise CommandError(f"--date invalide : {options['date']!r} (AAAA-MM-JJ)") from None
        run = ExchangeRun.objects.create(
            direction=Direction.DEPOSIT,
            started_by="command",
            periodicities=options["periodicity"],
            period_end=period_end,
        )
        run_command(self, run, options["json"])

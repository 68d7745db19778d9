from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import ngettext

import audit
from exchanges import spreadsheet, tracking
from exchanges.management.commands.monthly_report import output_format, write_new


class Command(BaseCommand):
    help = (
        "Fichier des anomalies à transmettre à France Travail pour un mois : enregistrements refusés, "
        "fichiers refusés et codes inconnus, désignés par le numéro d'enregistrement et l'identifiant "
        "France Travail seulement (ni nom ni NIR). Format selon l'extension : .ods ou .csv."
    )

    def add_arguments(self, parser):
        parser.add_argument("--month", required=True, help="mois de réception des fichiers, AAAA-MM")
        parser.add_argument("--output", required=True, help="nouveau fichier .ods ou .csv (jamais écrasé)")

    def handle(self, *args, **options):
        try:
            month = tracking.parse_month(options["month"])
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        output = Path(options["output"])
        fmt = output_format(output)
        sheet = tracking.anomalies(month)
        write_new(output, spreadsheet.render([sheet], fmt))
        audit.log(
            None, audit.Action.EXPORTED, object_type="ft_anomalies", rows=len(sheet.rows), origin="commande"
        )
        message = ngettext(
            "%(n)s anomalie de %(month)s écrite dans %(output)s.",
            "%(n)s anomalies de %(month)s écrites dans %(output)s.",
            len(sheet.rows),
        )
        self.stdout.write(message % {"n": len(sheet.rows), "month": f"{month:%Y-%m}", "output": output})

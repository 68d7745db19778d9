from datetime import date
from pathlib import Path

from django.utils.translation import ngettext

import audit
from exchanges import tracking
from exchanges.management.commands.monthly_report import MonthlySpreadsheetCommand


class Command(MonthlySpreadsheetCommand):
    help = (
        "Fichier des anomalies à transmettre à France Travail pour un mois : enregistrements refusés, "
        "fichiers refusés et codes inconnus, désignés par le numéro d'enregistrement et l'identifiant "
        "France Travail seulement (ni nom ni NIR). Format selon l'extension : .ods ou .csv."
    )
    month_help = "mois de réception des fichiers, AAAA-MM"

    def sheets(self, month: date) -> list[tracking.Sheet]:
        return [tracking.anomalies(month)]

    def written(self, month: date, output: Path, sheets: list[tracking.Sheet]) -> str:
        rows = len(sheets[0].rows)
        audit.log(None, audit.Action.EXPORTED, object_type="ft_anomalies", rows=rows, origin="commande")
        message = ngettext(
            "%(n)s anomalie de %(month)s écrite dans %(output)s.",
            "%(n)s anomalies de %(month)s écrites dans %(output)s.",
            rows,
        )
        return message % {"n": rows, "month": f"{month:%Y-%m}", "output": output}

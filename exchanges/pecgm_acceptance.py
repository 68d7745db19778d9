"""Acceptance of a PECGM file as a whole: the rules that refuse it after its records are read.

Each raises `FileRejected` (with a French message naming the file and the
figures) inside the import's transaction, which then rolls everything back.

- too many rejected records (`settings.PECGM_MAX_REJECT_RATIO`);
- a monthly stock far smaller than the previous one (`settings.PECGM_MIN_STOCK_RATIO`),
  unless an operator forces it.
"""

from __future__ import annotations

import logging
from datetime import date

from django.conf import settings
from django.utils.translation import gettext as _

from exchanges.models import SUCCESSFUL_STATUSES, ImportRun
from exchanges.pecgm_reader import FileRejected, RecordIssue

logger = logging.getLogger(__name__)


def allowed_rejects(run: ImportRun) -> int:
    """How many rejected records the file may have, from its announced size (the footer comes last)."""
    return int(settings.PECGM_MAX_REJECT_RATIO * max(run.progress_total, run.records)) + 1


def check_reject_ratio(run: ImportRun) -> None:
    ratio = run.rejected_records / run.records if run.records else 0.0
    if ratio > settings.PECGM_MAX_REJECT_RATIO:
        raise FileRejected(
            _(
                "%(file)s : %(rejected)d enregistrements rejetés sur %(records)d (%(ratio).1f %%), "
                "au-delà du seuil de %(max).1f %% : le fichier entier est refusé"
            )
            % {
                "file": run.file_name,
                "rejected": run.rejected_records,
                "records": run.records,
                "ratio": 100 * ratio,
                "max": 100 * settings.PECGM_MAX_REJECT_RATIO,
            }
        )


def previous_stock(reference_date: date) -> ImportRun | None:
    """The accepted stock a new one is compared with: the newest up to its reference date
    (of that date, the last imported: a corrected stock replaces the first). A late older
    month is compared with the month before it, not with a newer one."""
    return (
        ImportRun.objects.filter(
            periodicity="M", status__in=SUCCESSFUL_STATUSES, reference_date__lte=reference_date
        )
        .order_by("-reference_date", "-id")
        .first()
    )


def check_stock_size(run: ImportRun, previous: ImportRun | None, forced: bool) -> list[RecordIssue]:
    """Refuse a monthly stock much smaller than the previous one, unless an operator forces it.

    A stock replaces the previous picture: whoever is missing from it is marked
    absent, with a "left" event. An empty or partial file (an extraction gone
    wrong at France Travail: a well-formed file, with a footer that agrees)
    would thus "remove" most of the Département's job seekers at once. Real stocks move by
    a few per cent a month. The first stock has nothing to be compared with.
    Returns the note kept on the run when the operator forced it.
    """
    if previous is None or run.records >= settings.PECGM_MIN_STOCK_RATIO * previous.records:
        return []
    figures = {
        "file": run.file_name,
        "records": run.records,
        # French: 0 and 1 take the singular.
        "records_word": "enregistrements" if run.records > 1 else "enregistrement",
        "ratio": 100 * settings.PECGM_MIN_STOCK_RATIO,
        "previous": previous.records,
        "previous_file": previous.file_name,
        "previous_date": f"{previous.reference_date:%d/%m/%Y}",
    }
    if forced:
        logger.warning(
            "PECGM import: run %s, stock of %s records forced (previous stock: %s)",
            run.pk,
            run.records,
            previous.records,
        )
        message = _(
            "Stock mensuel de %(records)d %(records_word)s importé malgré sa taille, moins de %(ratio)g %% "
            "des %(previous)d du stock précédent (%(previous_file)s, données au %(previous_date)s) : "
            "import forcé par l'option --force-small-stock."
        )
        return [RecordIssue(None, "NB_ENREGISTREMENTS", str(run.records), message % figures)]
    raise FileRejected(
        _(
            "Fichier %(file)s refusé : champ NB_ENREGISTREMENTS, stock mensuel de %(records)d "
            "%(records_word)s, moins de %(ratio)g %% des %(previous)d du stock précédent "
            "(%(previous_file)s, données au %(previous_date)s). Importé, il marquerait absents "
            "du stock tous les bénéficiaires qui n'y figurent pas : rien n'a été modifié. "
            "Vérifiez le fichier auprès de France Travail ; s'il est complet, faites-le importer "
            "en ligne de commande : python manage.py import_pecgm %(file)s --force-small-stock "
            "(seuil : réglage PECGM_MIN_STOCK_RATIO)."
        )
        % figures,
        field="NB_ENREGISTREMENTS",
    )

"""The monthly tracking report (« tableau de suivi ») for the partnership committee, and the
« anomalies for France Travail » file.

Everything is read from what the project already records: import runs and their rejects
(PECGM), review cases, CGPEM exports, exchange runs. A month is a calendar month in the
Département's time zone; a file belongs to the month it was received (import started) or
produced (CGPEM created).

No personal data: counts, file names (departement, date, periodicity), dates, codes, and
reasons written by the project itself. The anomalies file names a record by its number in
the file and its France Travail identifier (known for the records kept); never a name, a
NIR or a birth date, nor a refused value (which may be one).

Alerts are not stored as such: they are what the home page and the e-mails said, and both
follow from the recorded runs (exchanges.alerts): a failed fetch or deposit, the monthly
stock not imported by PECGM_ALERT_AFTER_DAY, the monthly CGPEM not deposited by
EXCHANGE_MONTHLY_DEPOSIT_DAY. The report derives them the same way.
"""

from __future__ import annotations

import calendar
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from exchanges.models import (
    SUCCESSFUL_STATUSES,
    ImportReject,
    ImportRun,
    ImportStatus,
    JobSeekerSnapshot,
    RejectLevel,
    ReviewCase,
    ReviewStatus,
)
from exchanges.runs import Direction, ExchangeRun, RunStatus
from orientations.models import CgpemExport

MONTHS_SHOWN = 24

# Warnings on kept records, by kind: the reader's messages (exchanges.pecgm_reader) start so.
WARNING_KINDS = (
    ("unknown_code", "code inconnu"),
    ("long_label", "libellé plus long"),
    ("unknown_element", "élément inconnu"),
)
UNKNOWN_CODE_MESSAGE = dict(WARNING_KINDS)["unknown_code"]


def warning_kind_labels() -> dict[str, str]:
    return {
        "unknown_code": _("codes inconnus"),
        "long_label": _("libellés plus longs que prévu"),
        "unknown_element": _("éléments inconnus"),
        "other": _("autres avertissements"),
    }


def parse_month(text: str) -> date:
    """ "2025-01" → date(2025, 1, 1); ValueError (French) otherwise."""
    match = re.fullmatch(r"(\d{4})-(\d{2})", text.strip())
    if not match or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 2000:
        raise ValueError(
            _("mois « %(text)s » invalide : attendu AAAA-MM (par exemple 2025-01)") % {"text": text}
        )
    return date(int(match.group(1)), int(match.group(2)), 1)


def next_month(month: date) -> date:
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1)


def previous_month(month: date) -> date:
    return (month - timedelta(days=1)).replace(day=1)


def month_bounds(month: date) -> tuple[datetime, datetime]:
    """The month's first and the next month's first instant, in the Département's time zone."""
    zone = timezone.get_current_timezone()
    return (
        datetime.combine(month, time.min, tzinfo=zone),
        datetime.combine(next_month(month), time.min, tzinfo=zone),
    )


def last_months(today: date | None = None, count: int = MONTHS_SHOWN) -> list[date]:
    """The `count` last months, newest first, the current one included."""
    month = (today or timezone.localdate()).replace(day=1)
    months = []
    for _i in range(count):
        months.append(month)
        month = previous_month(month)
    return months


def _local(value: datetime | None) -> datetime | None:
    return timezone.localtime(value) if value else None


# --- The month's figures ---------------------------------------------------------------


@dataclass
class Sheet:
    """One table of the report: a sheet of the .ods, a section of the CSV."""

    title: str
    header: list[str]
    rows: list[list] = field(default_factory=list)


@dataclass
class MonthReport:
    month: date
    pecgm_files: list[dict]
    pecgm_total: dict
    stock: dict
    reviews: dict
    cgpem_files: list[dict]
    cgpem_total: dict
    left_out: list[tuple[str, int]]
    exchanges: dict
    alerts: list[dict]

    @property
    def label(self) -> str:
        return f"{self.month:%Y-%m}"


PECGM_COUNTS = (
    "records",
    "imported",
    "rejected_records",
    "warnings",
    "matched_nir",
    "matched_ft_identifier",
    "matched_caf_msa",
    "matched_name",
    "matched_confirmed",
    "created",
    "review",
)


def _warning_counts(runs) -> dict[int, dict[str, int]]:
    """Warnings by kind, per run (while the rejects are kept: RETENTION_REJECTS_MONTHS)."""
    kinds = {kind: Count("id", filter=Q(message__startswith=prefix)) for kind, prefix in WARNING_KINDS}
    rows = (
        ImportReject.objects.filter(run__in=runs, level=RejectLevel.WARNING)
        .order_by()
        .values("run_id")
        .annotate(total=Count("id"), **kinds)
    )
    found = {}
    for row in rows:
        counts = {kind: row[kind] for kind, _prefix in WARNING_KINDS}
        counts["other"] = row["total"] - sum(counts.values())
        found[row["run_id"]] = counts
    return found


def _pecgm(start: datetime, end: datetime) -> tuple[list[dict], dict]:
    runs = list(
        ImportRun.objects.filter(started_at__gte=start, started_at__lt=end)
        .exclude(status=ImportStatus.RUNNING)
        .order_by("started_at", "id")
    )
    warnings = _warning_counts([run.pk for run in runs])
    files = []
    empty = {kind: 0 for kind in warning_kind_labels()}
    for run in runs:
        entry = {
            "file_name": run.file_name,
            "received_at": _local(run.started_at),
            "reference_date": run.reference_date,
            "periodicity": run.periodicity,
            "status": run.status,
            "status_label": run.get_status_display(),
            **{name: getattr(run, name) for name in PECGM_COUNTS},
            "warnings_by_kind": warnings.get(run.pk, dict(empty)),
        }
        files.append(entry)
    total = {name: sum(entry[name] for entry in files) for name in PECGM_COUNTS}
    total["files"] = len(files)
    total["accepted"] = sum(1 for entry in files if entry["status"] in SUCCESSFUL_STATUSES)
    total["refused"] = sum(1 for entry in files if entry["status"] == ImportStatus.REJECTED)
    total["duplicates"] = sum(1 for entry in files if entry["status"] == ImportStatus.DUPLICATE)
    total["warnings_by_kind"] = {
        kind: sum(entry["warnings_by_kind"][kind] for entry in files) for kind in empty
    }
    return files, total


def _stock(month: date, today: date) -> dict:
    """The monthly stock due this month (the previous month's, dated its last day): received when."""
    due = previous_month(month)
    first = (
        ImportRun.objects.filter(
            periodicity="M",
            status__in=SUCCESSFUL_STATUSES,
            reference_date__gte=due,
            reference_date__lt=next_month(due),
        )
        .order_by("started_at")
        .first()
    )
    received_at = _local(first.started_at) if first else None
    alert_day = month.replace(
        day=min(settings.PECGM_ALERT_AFTER_DAY, calendar.monthrange(month.year, month.month)[1])
    )
    late = (received_at is not None and received_at.date() > alert_day) or (
        received_at is None and today > alert_day
    )
    return {
        "expected": 1,
        "reference_month": due,
        "received": first is not None,
        "received_at": received_at,
        "file_name": first.file_name if first else "",
        "late": late,
        "alert_day": alert_day,
    }


def _reviews(start: datetime, end: datetime) -> dict:
    opened = ReviewCase.objects.filter(created_at__gte=start, created_at__lt=end).count()
    resolved = ReviewCase.objects.filter(resolved_at__gte=start, resolved_at__lt=end).exclude(
        status=ReviewStatus.OPEN
    )
    by_status = dict(
        resolved.filter(resolved_by__isnull=False)
        .order_by()
        .values_list("status")
        .annotate(count=Count("id"))
    )
    automatic = resolved.filter(resolved_by__isnull=True).count()
    still_open = (
        ReviewCase.objects.filter(created_at__lt=end)
        .filter(Q(status=ReviewStatus.OPEN) | Q(resolved_at__gte=end))
        .count()
    )
    return {
        "opened": opened,
        "linked": by_status.get(ReviewStatus.LINKED, 0),
        "created": by_status.get(ReviewStatus.CREATED, 0),
        "dismissed": by_status.get(ReviewStatus.DISMISSED, 0),
        "closed_automatically": automatic,
        "open_at_end": still_open,
    }


def reason_kind(reason: str) -> str:
    """A left-out decision's reason without its figures: « NOM : n caractères… » groups alike."""
    return re.sub(r"\d+", "n", reason)


def _cgpem(start: datetime, end: datetime) -> tuple[list[dict], dict, list[tuple[str, int]]]:
    exports = CgpemExport.objects.filter(created_at__gte=start, created_at__lt=end).order_by(
        "created_at", "id"
    )
    files = []
    reasons: Counter = Counter()
    for export in exports:
        cut = sum(1 for item in export.warnings if str(item.get("message", "")).endswith("valeur coupée"))
        dropped = sum(
            1 for item in export.warnings if str(item.get("message", "")).endswith("valeur non transmise")
        )
        for item in export.excluded:
            for reason in item.get("reasons", []):
                reasons[reason_kind(str(reason))] += 1
        files.append(
            {
                "file_name": export.file_name,
                "created_at": _local(export.created_at),
                "periodicity": export.periodicity,
                "period_start": export.period_start,
                "period_end": export.period_end,
                "records": export.records,
                "left_out": len(export.excluded),
                "cut": cut,
                "dropped": dropped,
                "transliterations": len(export.transliterations),
                "deposited_at": _local(export.deposited_at),
            }
        )
    counted = ("records", "left_out", "cut", "dropped", "transliterations")
    total = {name: sum(entry[name] for entry in files) for name in counted}
    total["files"] = len(files)
    total["deposited"] = sum(1 for entry in files if entry["deposited_at"])
    return files, total, sorted(reasons.items(), key=lambda item: (-item[1], item[0]))


def _monthly_cgpem(month: date, today: date) -> dict:
    """The monthly CGPEM due this month (the previous month's): deposited when."""
    due_end = month - timedelta(days=1)
    deposited = (
        CgpemExport.objects.filter(periodicity="M", period_end=due_end, deposited_at__isnull=False)
        .order_by("deposited_at")
        .first()
    )
    deposited_at = _local(deposited.deposited_at) if deposited else None
    day = month.replace(
        day=min(settings.EXCHANGE_MONTHLY_DEPOSIT_DAY, calendar.monthrange(month.year, month.month)[1])
    )
    late = (deposited_at is not None and deposited_at.date() > day) or (deposited_at is None and today > day)
    return {"period_end": due_end, "deposited_at": deposited_at, "late": late, "deposit_day": day}


def _exchanges(start: datetime, end: datetime) -> tuple[dict, list[dict]]:
    runs = ExchangeRun.objects.filter(created_at__gte=start, created_at__lt=end)
    counts = {
        row["direction"]: row
        for row in runs.order_by()
        .values("direction")
        .annotate(total=Count("id"), failed=Count("id", filter=Q(status=RunStatus.FAILED)))
    }
    summary = {
        "fetches": counts.get(Direction.FETCH, {}).get("total", 0),
        "fetches_failed": counts.get(Direction.FETCH, {}).get("failed", 0),
        "deposits": counts.get(Direction.DEPOSIT, {}).get("total", 0),
        "deposits_failed": counts.get(Direction.DEPOSIT, {}).get("failed", 0),
    }
    failures = [
        {
            "when": _local(run.finished_at or run.created_at),
            "kind": _("échec : %(direction)s n° %(id)s")
            % {"direction": run.get_direction_display(), "id": run.pk},
            "message": run.error_message,
        }
        for run in runs.filter(status=RunStatus.FAILED).order_by("created_at", "id")
    ]
    return summary, failures


def operations_start() -> date | None:
    """The first month the project exchanged anything: before it, no file was expected."""
    firsts = [
        model.objects.order_by(column).values_list(column, flat=True).first()
        for model, column in (
            (ImportRun, "started_at"),
            (ExchangeRun, "created_at"),
            (CgpemExport, "created_at"),
        )
    ]
    found = [timezone.localtime(first).date().replace(day=1) for first in firsts if first]
    return min(found) if found else None


def month_report(month: date, today: date | None = None, started: date | None = None) -> MonthReport:
    """The month's figures. `started`: operations_start(), when the caller already has it."""
    today = today or timezone.localdate()
    started = started or operations_start()
    start, end = month_bounds(month)
    files, total = _pecgm(start, end)
    stock = _stock(month, today)
    cgpem_files, cgpem_total, left_out = _cgpem(start, end)
    monthly_cgpem = _monthly_cgpem(month, today)
    if started is None or month < started:
        # Before the first exchange, nothing was expected: no alert for it.
        stock["expected"], stock["late"], monthly_cgpem["late"] = 0, False, False
    exchanges, alerts = _exchanges(start, end)
    if stock["late"]:
        alerts.append(
            {
                "when": stock["received_at"],
                "kind": _("stock mensuel PECGM en retard"),
                "message": (
                    _("reçu le %(date)s, attendu au plus tard le %(day)s")
                    % {"date": f"{stock['received_at']:%d/%m/%Y}", "day": f"{stock['alert_day']:%d/%m/%Y}"}
                    if stock["received"]
                    else _("non reçu, attendu au plus tard le %(day)s")
                    % {"day": f"{stock['alert_day']:%d/%m/%Y}"}
                ),
            }
        )
    if monthly_cgpem["late"]:
        day = f"{monthly_cgpem['deposit_day']:%d/%m/%Y}"
        alerts.append(
            {
                "when": monthly_cgpem["deposited_at"],
                "kind": _("fichier CGPEM mensuel non déposé à temps"),
                "message": (
                    _("déposé le %(date)s, attendu au plus tard le %(day)s")
                    % {"date": f"{monthly_cgpem['deposited_at']:%d/%m/%Y}", "day": day}
                    if monthly_cgpem["deposited_at"]
                    else _("non déposé, attendu au plus tard le %(day)s") % {"day": day}
                ),
            }
        )
    exchanges["monthly_cgpem_deposited_at"] = monthly_cgpem["deposited_at"]
    return MonthReport(
        month=month,
        pecgm_files=files,
        pecgm_total=total,
        stock=stock,
        reviews=_reviews(start, end),
        cgpem_files=cgpem_files,
        cgpem_total=cgpem_total,
        left_out=left_out,
        exchanges=exchanges,
        alerts=alerts,
    )


def overview(months: list[date], today: date | None = None) -> list[MonthReport]:
    """The reports of several months (the admin page's last 24), newest first."""
    started = operations_start()
    return [month_report(month, today, started) for month in months]


# --- As tables ------------------------------------------------------------------------------


def _when(value: datetime | None) -> str:
    return f"{value:%d/%m/%Y %H:%M}" if value else ""


def _day(value: date | None) -> str:
    return f"{value:%d/%m/%Y}" if value else ""


def pecgm_columns() -> list[tuple[str, str]]:
    return [
        ("records", _("enregistrements")),
        ("imported", _("importés")),
        ("rejected_records", _("refusés")),
        ("warnings", _("avertissements")),
        ("matched_nir", _("rapprochés par NIR")),
        ("matched_ft_identifier", _("rapprochés par identifiant France Travail")),
        ("matched_caf_msa", _("rapprochés par n° CAF/MSA et date de naissance")),
        ("matched_name", _("rapprochés par nom, prénom et date de naissance")),
        ("matched_confirmed", _("rapprochés par une décision antérieure")),
        ("created", _("créés (connus seulement de France Travail)")),
        ("review", _("mis en vérification")),
    ]


def sheets(report: MonthReport) -> list[Sheet]:
    """The report as tables, in the order of the .ods sheets and the CSV sections."""
    kinds = warning_kind_labels()
    total, stock, reviews, cgpem, exchanges = (
        report.pecgm_total,
        report.stock,
        report.reviews,
        report.cgpem_total,
        report.exchanges,
    )
    summary = Sheet(_("Synthèse"), [_("indicateur"), _("valeur")])
    summary.rows = [
        [_("mois"), report.label],
        [_("stock mensuel PECGM attendu"), stock["expected"]],
        [_("stock mensuel PECGM reçu"), 1 if stock["received"] else 0],
        [_("stock mensuel PECGM reçu le"), _when(stock["received_at"])],
        [_("fichiers PECGM reçus"), total["files"]],
        [_("fichiers PECGM importés"), total["accepted"]],
        [_("fichiers PECGM refusés"), total["refused"]],
        [_("fichiers PECGM en double (ignorés)"), total["duplicates"]],
        *[[label, total[name]] for name, label in pecgm_columns()],
        *[
            [_("avertissements : %(kind)s") % {"kind": label}, total["warnings_by_kind"][kind]]
            for kind, label in kinds.items()
        ],
        [_("rapprochements à vérifier ouverts"), reviews["opened"]],
        [_("rapprochements traités : rattachés à un bénéficiaire"), reviews["linked"]],
        [_("rapprochements traités : bénéficiaire créé ou confirmé"), reviews["created"]],
        [_("rapprochements traités : écartés"), reviews["dismissed"]],
        [_("rapprochements clos automatiquement (durée de conservation)"), reviews["closed_automatically"]],
        [_("rapprochements restés à traiter en fin de mois"), reviews["open_at_end"]],
        [_("fichiers CGPEM produits"), cgpem["files"]],
        [_("fichiers CGPEM déposés"), cgpem["deposited"]],
        [_("décisions transmises"), cgpem["records"]],
        [_("décisions écartées"), cgpem["left_out"]],
        [_("valeurs coupées"), cgpem["cut"]],
        [_("valeurs non transmises"), cgpem["dropped"]],
        [_("caractères translittérés (décisions)"), cgpem["transliterations"]],
        [_("CGPEM mensuel du mois précédent déposé le"), _when(exchanges["monthly_cgpem_deposited_at"])],
        [_("réceptions lancées"), exchanges["fetches"]],
        [_("réceptions échouées"), exchanges["fetches_failed"]],
        [_("dépôts lancés"), exchanges["deposits"]],
        [_("dépôts échoués"), exchanges["deposits_failed"]],
        [_("alertes"), len(report.alerts)],
    ]
    pecgm = Sheet(
        _("Fichiers PECGM"),
        [
            _("fichier"),
            _("reçu le"),
            _("date de référence"),
            _("périodicité"),
            _("statut"),
            *[label for _name, label in pecgm_columns()],
            *[_("avertissements : %(kind)s") % {"kind": label} for label in kinds.values()],
        ],
    )
    for entry in report.pecgm_files:
        pecgm.rows.append(
            [
                entry["file_name"],
                _when(entry["received_at"]),
                _day(entry["reference_date"]),
                entry["periodicity"],
                str(entry["status_label"]),
                *[entry[name] for name, _label in pecgm_columns()],
                *[entry["warnings_by_kind"][kind] for kind in kinds],
            ]
        )
    pecgm.rows.append(
        [
            _("total"),
            "",
            "",
            "",
            "",
            *[total[name] for name, _label in pecgm_columns()],
            *[total["warnings_by_kind"][kind] for kind in kinds],
        ]
    )
    cgpem_sheet = Sheet(
        _("Fichiers CGPEM"),
        [
            _("fichier"),
            _("produit le"),
            _("périodicité"),
            _("début de période"),
            _("fin de période"),
            _("décisions transmises"),
            _("décisions écartées"),
            _("valeurs coupées"),
            _("valeurs non transmises"),
            _("translittérations"),
            _("déposé le"),
        ],
    )
    for entry in report.cgpem_files:
        cgpem_sheet.rows.append(
            [
                entry["file_name"],
                _when(entry["created_at"]),
                entry["periodicity"],
                _day(entry["period_start"]),
                _day(entry["period_end"]),
                entry["records"],
                entry["left_out"],
                entry["cut"],
                entry["dropped"],
                entry["transliterations"],
                _when(entry["deposited_at"]),
            ]
        )
    cgpem_sheet.rows.append(
        [
            _("total"),
            "",
            "",
            "",
            "",
            cgpem["records"],
            cgpem["left_out"],
            cgpem["cut"],
            cgpem["dropped"],
            cgpem["transliterations"],
            "",
        ]
    )
    reasons = Sheet(_("Décisions écartées"), [_("motif"), _("décisions")])
    reasons.rows = [[reason, count] for reason, count in report.left_out]
    alerts = Sheet(_("Échecs et alertes"), [_("date"), _("type"), _("détail")])
    alerts.rows = [[_when(item["when"]), str(item["kind"]), str(item["message"])] for item in report.alerts]
    return [summary, pecgm, cgpem_sheet, reasons, alerts]


# --- The anomalies for France Travail --------------------------------------------------------


def anomalies(month: date) -> Sheet:
    """Refused records, refused files and unknown codes of the files received in `month`.

    A record is named by its number in the file and, when it was kept (unknown code), its
    France Travail identifier; a refused record was not kept, its number is what identifies
    it in France Travail's own copy of the file. The refused value is not repeated (it may be
    a name or a NIR); an unknown code is (a code of annexe 4 is no personal data).
    """
    start, end = month_bounds(month)
    rejects = (
        ImportReject.objects.filter(run__started_at__gte=start, run__started_at__lt=end)
        .filter(
            Q(level=RejectLevel.ERROR)
            | Q(level=RejectLevel.WARNING, message__startswith=UNKNOWN_CODE_MESSAGE)
        )
        .select_related("run")
        .order_by("run__started_at", "run_id", "record_number", "id")
    )
    rejects = list(rejects)
    identifiers = {}
    wanted = {
        (reject.run_id, reject.record_number) for reject in rejects if reject.level == RejectLevel.WARNING
    }
    if wanted:
        runs = {run for run, _number in wanted}
        for run_id, number, identifier in (
            JobSeekerSnapshot.objects.filter(run_id__in=runs)
            .filter(record_number__in={number for _run, number in wanted})
            .values_list("run_id", "record_number", "ft_identifier")
        ):
            identifiers[(run_id, number)] = identifier
    sheet = Sheet(
        _("Anomalies pour France Travail"),
        [
            _("fichier"),
            _("date de référence"),
            _("enregistrement n°"),
            _("identifiant France Travail"),
            _("nature"),
            _("champ"),
            _("code reçu"),
            _("motif"),
        ],
    )
    for reject in rejects:
        is_code = reject.level == RejectLevel.WARNING
        if reject.record_number is None:
            nature = _("fichier refusé")
        else:
            nature = _("code inconnu") if is_code else _("enregistrement refusé")
        sheet.rows.append(
            [
                reject.run.file_name,
                _day(reject.run.reference_date),
                reject.record_number or "",
                identifiers.get((reject.run_id, reject.record_number), "") if is_code else "",
                str(nature),
                reject.field,
                reject.value if is_code else "",
                reject.message,
            ]
        )
    return sheet

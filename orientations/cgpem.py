"""The CGPEM file: the Département's orientation decisions, sent to France Travail.

`generate_cgpem` selects the decisions of a period, fits each one into the
file's layout (exchanges.layouts.CGPEM: lengths, formats, ISO-8859-1), writes
the file to a temporary path (exchanges.xml_writer), validates it against
cgpem.xsd, and only then archives it and records a CgpemExport. A decision that cannot fit is left out
with its reason (shown to admins on the exports page); the file is never
invalid.

Choices where the contract leaves room (see docs/cgpem.md):
- the beneficiary's names (birth, marital, first) are what France Travail
  matches on: over 25 letters after transliteration, the decision is left out
  (FORMATS.md), never cut;
- the correspondent's names and service are contact details: cut to their
  maximum with a warning;
- the referent body (name and address, 90), the e-mail (60) and the phone (10
  digits) cannot be cut without becoming wrong: the decision is left out;
- a France Travail identifier or institution code of the wrong length (they
  come from a PECGM) is dropped with a warning, the decision is still sent.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from lxml import etree

from exchanges.layouts import CGPEM, DATE, VERSION, A, N
from exchanges.models import FollowUp
from exchanges.xml_writer import schema_for, write_file
from orientations.latin1 import NAME_CHARACTERS, UNSAFE, NotLatin1, is_name, to_latin1
from orientations.models import CgpemExport, OrientationDecision

ENCODING = "ISO-8859-1"

# Policies by layout attribute (see the module's docstring).
CUT_WITH_WARNING = frozenset({"correspondent_last_name", "correspondent_first_name", "correspondent_service"})
DROP_WITH_WARNING = frozenset({"ft_institution_code", "ft_identifier"})
# Values shared by many decisions: fitted once per run.
SHARED = frozenset(
    {
        "referent_body",
        "correspondent_last_name",
        "correspondent_first_name",
        "correspondent_phone",
        "correspondent_email",
        "correspondent_service",
    }
)

_LEAVES = [(path[-1], item, attr) for path, item, attr in CGPEM.detail.flat_fields()]


class CgpemError(RuntimeError):
    """The file could not be produced (French message)."""


class Excluded(ValueError):
    """One value makes the decision impossible to send (French reason naming the element)."""


@dataclass
class Report:
    excluded: list[dict] = field(default_factory=list)
    transliterations: list[dict] = field(default_factory=list)
    warnings: list[dict] = field(default_factory=list)


def period_bounds(periodicity: str, period_end: date) -> tuple[date, date]:
    """M: the calendar month of period_end; H: the 7 days ending at it; Q: that day."""
    if periodicity == "M":
        return period_end.replace(day=1), period_end
    if periodicity == "H":
        return period_end - timedelta(days=6), period_end
    if periodicity == "Q":
        return period_end, period_end
    raise CgpemError(f"périodicité « {periodicity} » inconnue (M, H ou Q)")


def select_decisions(periodicity: str, period_start: date, period_end: date):
    """Decisions in force at period_end; for a flux, only those recorded or corrected in the period."""
    decisions = OrientationDecision.objects.filter(
        Q(ended_on__isnull=True) | Q(ended_on__gt=period_end), decision_date__lte=period_end
    )
    if periodicity != "M":
        tz = timezone.get_current_timezone()
        start = datetime.combine(period_start, time.min, tzinfo=tz)
        end = datetime.combine(period_end + timedelta(days=1), time.min, tzinfo=tz)
        decisions = decisions.filter(changed_at__gte=start, changed_at__lt=end)
    return decisions.order_by("beneficiary_id", "id")


def _decision_rows(decisions) -> Iterator[tuple[int, int, dict]]:
    """(decision id, beneficiary id, values keyed by layout attribute), streamed."""
    followups = _followups()
    rows = decisions.values_list(
        "id",
        "beneficiary_id",
        "beneficiary__nir_key",
        "beneficiary__birth_name",
        "beneficiary__usage_name",
        "beneficiary__first_name",
        "beneficiary__birth_date",
        "nature",
        "decision_date",
        "referent_body__name",
        "referent_body__address",
        "correspondent__last_name",
        "correspondent__first_name",
        "correspondent__phone",
        "correspondent__email",
        "correspondent__service",
    )
    for (
        pk,
        beneficiary_id,
        nir,
        birth_name,
        usage_name,
        first_name,
        birth_date,
        nature,
        decision_date,
        body_name,
        body_address,
        last_name,
        corr_first_name,
        phone,
        email,
        service,
    ) in rows.iterator(chunk_size=5000):
        ft_institution_code, ft_identifier = followups.get(beneficiary_id, ("", ""))
        yield (
            pk,
            beneficiary_id,
            {
                "nir": nir,
                "birth_name": birth_name,
                # Written only when it differs from the birth name.
                "usage_name": usage_name if usage_name != birth_name else "",
                "first_name": first_name,
                "birth_date": birth_date,
                "ft_institution_code": ft_institution_code,
                "ft_identifier": ft_identifier,
                "nature": nature,
                "decision_date": decision_date,
                "referent_body": " ".join(part for part in (body_name, body_address) if part),
                "correspondent_last_name": last_name,
                "correspondent_first_name": corr_first_name,
                "correspondent_phone": phone,
                "correspondent_email": email,
                "correspondent_service": service,
            },
        )


def _followups() -> dict[int, tuple[str, str]]:
    """France Travail institution code and identifier per beneficiary, from their newest PECGM record.

    Institution codes come padded or not ("076", "76"): the file wants three characters.
    """
    rows = FollowUp.objects.exclude(ft_identifier="", ft_institution_code="").values_list(
        "beneficiary_id", "ft_institution_code", "ft_identifier"
    )
    return {
        beneficiary: (
            (code or "").strip().zfill(3) if (code or "").strip().isdigit() else (code or "").strip(),
            (identifier or "").strip(),
        )
        for beneficiary, code, identifier in rows.iterator(chunk_size=5000)
    }


def fit_value(tag: str, item, attr: str, value) -> tuple[object, dict, str | None]:
    """(value to write or None, transliterated characters, warning) or raise Excluded."""
    if value is None or value == "":
        if item.required:
            raise Excluded(f"{tag} : valeur obligatoire absente")
        return None, {}, None
    if item.format == DATE:
        return value, {}, None
    try:
        fitted = to_latin1(str(value))
    except NotLatin1 as exc:
        raise Excluded(
            f"{tag} : le caractère U+{ord(exc.character):04X} n'a pas d'équivalent en ISO-8859-1"
        ) from None
    text, replaced = fitted.text, fitted.replaced
    if not text:
        if item.required:
            raise Excluded(f"{tag} : valeur obligatoire absente")
        return None, replaced, None
    if item.codes is not None and text not in item.codes:
        raise Excluded(f"{tag} : code « {text} » inconnu")
    if item.format == A and not is_name(text):
        raise Excluded(f"{tag} : seuls les lettres, espaces, tirets et apostrophes sont admis")
    if item.format == N and not (text.isascii() and text.isdigit()):
        raise Excluded(f"{tag} : chiffres seulement")
    warning = None
    if item.fixed_length and len(text) != item.length:
        message = f"{tag} : {len(text)} caractères au lieu de {item.length}"
        if attr in DROP_WITH_WARNING:
            return None, replaced, message + " ; valeur non transmise"
        raise Excluded(message)
    if item.length is not None and len(text) > item.length:
        message = f"{tag} : {len(text)} caractères après translittération, {item.length} au plus"
        if attr not in CUT_WITH_WARNING:
            raise Excluded(message)
        text = text[: item.length].rstrip()
        warning = message + " ; valeur coupée"
    return text, replaced, warning


def _fast_check(item):
    """A cheap test that a text can be written as it is (the common case); None for dates.

    Anything it does not vouch for goes through `fit_value`, which decides.
    """
    if item.format == DATE:
        return None
    limit = item.length

    def plain(text: str) -> bool:
        # Latin-1 printable, whitespace already collapsed, within the length.
        return (
            len(text) <= limit
            and not UNSAFE.search(text)
            and "  " not in text
            and text[0] != " "
            and text[-1] != " "
        )

    if item.codes is not None:
        return lambda text: text in item.codes
    if item.fixed_length:
        return lambda text: (
            len(text) == limit and plain(text) and (item.format != N or (text.isascii() and text.isdigit()))
        )
    if item.format == A:
        return lambda text: plain(text) and not text.strip(NAME_CHARACTERS)
    if item.format == N:
        return lambda text: plain(text) and text.isascii() and text.isdigit()
    return plain


_PLAN = [(tag, item, attr, attr in SHARED, _fast_check(item)) for tag, item, attr in _LEAVES]


def fit_records(rows: Iterable[tuple[int, int, dict]], report: Report) -> Iterator[dict]:
    """The records that fit, ready for the writer; the others land in report.excluded."""
    shared_cache: dict[tuple[str, object], tuple | Excluded] = {}
    for pk, beneficiary_id, values in rows:
        record: dict = {}
        reasons: list[str] = []
        transliterated: list[dict] = []
        warnings: list[dict] = []
        for tag, item, attr, shared, fast in _PLAN:
            value = values.get(attr)
            if value is None or value == "":
                if item.required:
                    reasons.append(f"{tag} : valeur obligatoire absente")
                continue
            if fast is None or (value.__class__ is str and fast(value)):
                record[attr] = value
                continue
            outcome = shared_cache.get((attr, value)) if shared else None
            if outcome is None:
                try:
                    outcome = fit_value(tag, item, attr, value)
                except Excluded as exc:
                    outcome = exc
                if shared:
                    shared_cache[(attr, value)] = outcome
            if isinstance(outcome, Excluded):
                reasons.append(str(outcome))
                continue
            text, replaced, warning = outcome
            if text is not None:
                record[attr] = text
            if replaced:
                transliterated.append({"decision": pk, "field": tag, "replaced": replaced})
            if warning:
                warnings.append({"decision": pk, "beneficiary": beneficiary_id, "message": warning})
        if reasons:
            report.excluded.append({"decision": pk, "beneficiary": beneficiary_id, "reasons": reasons})
            continue
        if transliterated:
            report.transliterations.extend(transliterated)
        if warnings:
            report.warnings.extend(warnings)
        yield record


# --- Validating and archiving ------------------------------------------------------


def load_schema() -> etree.XMLSchema:
    return schema_for(CGPEM)


def validate_file(path: Path, schema: etree.XMLSchema | None = None) -> None:
    """Stream the file through cgpem.xsd; raise CgpemError at the first fault."""
    schema = schema or load_schema()
    try:
        # Events for records only (the other elements are validated all the same),
        # each record dropped once seen: memory stays flat whatever the size.
        for _event, element in etree.iterparse(
            str(path),
            events=("end",),
            tag=CGPEM.detail.tag,
            schema=schema,
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
        ):
            element.clear(keep_tail=True)
            while element.getprevious() is not None:
                del element.getparent()[0]
    except etree.XMLSyntaxError as exc:
        # lxml's message quotes the faulty value (personal data): name the element only.
        element = re.search(r"Element '([A-Z_]+)'", str(exc))
        where = f" (élément {element.group(1)})" if element else ""
        raise CgpemError(f"le fichier produit ne respecte pas cgpem.xsd{where}") from None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def archive_dir() -> Path:
    return Path(settings.EXCHANGE_FILES_DIR) / "cgpem"


def archived_path(export: CgpemExport) -> Path | None:
    """The archived file of an export, if it is still there (and inside the archive)."""
    path = Path(export.path)
    root = archive_dir().resolve()
    try:
        resolved = path.resolve()
    except OSError:
        return None
    if root not in resolved.parents or not resolved.is_file():
        return None
    return resolved


def _archive(temp: Path, directory: Path, file_name: str) -> Path:
    """Move the file under the contract's name, or name-2, name-3… if a file of that period exists.

    A hard link never replaces an existing file: two runs at once cannot
    overwrite each other's archive.
    """
    path = directory / file_name
    stem, suffix = path.stem, path.suffix
    number = 2
    while True:
        try:
            os.link(temp, path)
        except FileExistsError:
            path = directory / f"{stem}-{number}{suffix}"
            number += 1
            continue
        except OSError:
            # A file system without hard links: check, then rename.
            if path.exists():
                path = directory / f"{stem}-{number}{suffix}"
                number += 1
                continue
            os.replace(temp, path)
            return path
        temp.unlink()
        return path


def generate_cgpem(
    periodicity: str,
    period_end: date,
    *,
    created_by: str = "command",
    user=None,
    output: Path | None = None,
) -> CgpemExport:
    """Write, validate and archive the CGPEM file of the period ending at `period_end`."""
    period_start, period_end = period_bounds(periodicity, period_end)
    departement = settings.DEPARTEMENT.rjust(3, "0")
    header = {
        "periodicity": periodicity,
        "departement": departement,
        "reference_date": period_end,
        "production_date": timezone.localdate(),
        "version": VERSION,
    }
    report = Report()
    directory = archive_dir()
    directory.mkdir(parents=True, exist_ok=True)
    file_name = CGPEM.file_name(departement, period_end.strftime("%Y%m%d"), periodicity)

    handle, temp_name = tempfile.mkstemp(dir=directory, prefix=".cgpem-", suffix=".tmp")
    os.close(handle)
    temp = Path(temp_name)
    try:
        rows = _decision_rows(select_decisions(periodicity, period_start, period_end))
        written = write_file(CGPEM, header, fit_records(rows, report), temp, encoding=ENCODING)
        validate_file(temp)
        sha256 = _sha256(temp)
        final = _archive(temp, directory, file_name)
        try:
            export = CgpemExport.objects.create(
                file_name=file_name,
                path=str(final),
                sha256=sha256,
                periodicity=periodicity,
                period_start=period_start,
                period_end=period_end,
                records=written,
                excluded=report.excluded,
                transliterations=report.transliterations,
                warnings=report.warnings,
                created_by=created_by,
                user=user,
            )
        except BaseException:
            final.unlink(missing_ok=True)  # no archive without its record
            raise
    finally:
        temp.unlink(missing_ok=True)
    if output is not None:
        shutil.copyfile(final, output)
    return export

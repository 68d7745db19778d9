"""The CGPEM file: the Département's orientation decisions, sent to France Travail.

`generate_cgpem` selects the decisions of a period, fits each one into the
file's layout (contract.layouts.CGPEM: lengths, formats, ISO-8859-1), writes
the file to a temporary path (contract.xml_writer), validates it against
cgpem.xsd, and only then archives it and records a CgpemExport. A decision that cannot fit is left out
with its reason (shown to admins on the exports page); the file is never
invalid.

Choices where the contract leaves room (see docs/orientations.md):
- France Travail matches first on the NIR and its identifier, then on the
  names: no name is by itself a reason to leave a decision out (issue 21). A
  character outside the `A` format (comma, digit, no Latin-1 form) becomes a
  space, reported with the transliterations; a birth name or first name over
  25 is cut at 25 with a warning; a marital name that cannot be written (over
  25) is left out with a warning. A decision is left out only when nothing
  identifying can be written (no NIR, no identifier, no birth name);
- people anonymised by the retention job are never sent;
- the correspondent's names and service are contact details: cut to their
  maximum with a warning;
- the referent body (name and address, 90), the e-mail (60) and the phone (10
  digits) cannot be cut without becoming wrong: the decision is left out;
- so is a date with a year below 1000 (a typo such as 0202, stored before the
  forms refused it), which strftime cannot write in 8 digits;
- a France Travail identifier or institution code of the wrong length (they
  come from a PECGM) is dropped with a warning, the decision is still sent;
- so is a NIR that is not one (PECGM records carry unchecked NIRs): it is
  optional in the layout and cgpem.xsd, and the names, birth date and France
  Travail identifier still identify the person, whereas a wrong NIR could
  point at someone else.
"""

from __future__ import annotations

import calendar
import os
import re
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.models import Q
from django.utils import timezone
from lxml import etree

from beneficiaries.models import ANONYMOUS_NAME
from config.private_files import copy_private, file_sha256
from contract.departement import departement_on_three
from contract.latin1 import NAME_CHARACTERS, NotLatin1, to_latin1, to_name
from contract.layouts import AN, CGPEM, DATE, VERSION, A, N
from contract.nir import InvalidNIR, clean_nir, is_nir_key, nir_key
from contract.xml_writer import FRAGMENT, Fragment, part_schemas, schema_for, write_file
from orientations.models import CarriedDecision, CgpemExport, Correspondent, OrientationDecision, ReferentBody
from orientations.validators import referent_body_text

ENCODING = "ISO-8859-1"

# Policies by layout attribute (see the module's docstring).
CUT_WITH_WARNING = frozenset(
    {
        "birth_name",
        "first_name",
        "correspondent_last_name",
        "correspondent_first_name",
        "correspondent_service",
    }
)
DROP_WITH_WARNING = frozenset({"ft_institution_code", "ft_identifier", "usage_name"})
# The person's names: never a reason by themselves to leave a decision out.
PERSON_NAMES = frozenset({"birth_name", "usage_name", "first_name"})
# What identifies the person for France Travail: a decision is left out only when none of
# these can be written (the birth date alone names nobody).
IDENTIFYING = ("nir", "ft_identifier", "birth_name")
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


def check_period_end(periodicity: str, period_end: date) -> None:
    """Raise CgpemError (French message) unless the periodicity can end a period at `period_end`.

    A period not over yet would send decisions as if they held at a date not reached, under
    that period's file name (which the exchange server then refuses a second time: 409).
    M is the stock at the end of a calendar month. H (the 7 days ending at the date) and Q
    (that day) have no fixed weekday in docs/formats.md or the layouts: any day up to today.
    """
    today = timezone.localdate()
    if period_end > today:
        raise CgpemError(
            f"la fin de période {period_end:%d/%m/%Y} est dans le futur (aujourd'hui : {today:%d/%m/%Y})"
        )
    month_end = period_end.replace(day=calendar.monthrange(period_end.year, period_end.month)[1])
    if periodicity == "M" and period_end != month_end:
        raise CgpemError(
            f"le stock mensuel (M) se termine le dernier jour d'un mois : {period_end:%d/%m/%Y} ne l'est "
            f"pas (le {month_end:%d/%m/%Y} ?)"
        )


def select_decisions(periodicity: str, period_start: date, period_end: date):
    """Decisions in force at period_end; for a flux, only those changed in the period.

    Changed: recorded, corrected, moved to another person by a review (all three set
    `changed_at`), or the person's identity corrected (`Beneficiary.identity_changed_at`):
    France Travail then gets the decision under the right identity. People anonymised by
    the retention job are never sent: nothing of theirs identifies anyone any more.
    """
    decisions = OrientationDecision.objects.filter(
        Q(ended_on__isnull=True) | Q(ended_on__gt=period_end), decision_date__lte=period_end
    ).exclude(beneficiary__birth_name=ANONYMOUS_NAME, beneficiary__nir="")
    # Restricted processing (RGPD art. 18): not sent until lifted (rights.restriction).
    decisions = decisions.exclude(beneficiary__restriction__isnull=False)
    if periodicity != "M":
        tz = timezone.get_current_timezone()
        start = datetime.combine(period_start, time.min, tzinfo=tz)
        end = datetime.combine(period_end + timedelta(days=1), time.min, tzinfo=tz)
        decisions = decisions.filter(
            Q(changed_at__gte=start, changed_at__lt=end)
            | Q(beneficiary__identity_changed_at__gte=start, beneficiary__identity_changed_at__lt=end)
        )
    return decisions.order_by("beneficiary_id", "id")


# The query's column of each of the person's elements (the layout's other elements, SHARED,
# come from the referent body and the correspondent).
PERSON_COLUMNS = {
    "nir": "beneficiary__nir_key",
    "birth_name": "beneficiary__birth_name",
    "usage_name": "beneficiary__usage_name",
    "first_name": "beneficiary__first_name",
    "birth_date": "beneficiary__birth_date",
    "ft_institution_code": "beneficiary__followup__ft_institution_code",
    "ft_identifier": "beneficiary__followup__ft_identifier",
    "nature": "nature",
    "decision_date": "decision_date",
}


def _decision_rows(decisions) -> Iterator[tuple[int, int, dict, tuple[int, int | None]]]:
    """(decision id, beneficiary id, the person's values keyed by layout attribute, referent key), streamed.

    The referent key (referent body id, correspondent id) stands for the SHARED values: a few
    hundred pairs at most, fitted once each (`_Referents`) instead of once per decision.
    """
    attrs = tuple(PERSON_COLUMNS)
    rows = decisions.values_list(
        "id", "beneficiary_id", *PERSON_COLUMNS.values(), "referent_body_id", "correspondent_id"
    )
    for row in rows.iterator(chunk_size=5000):
        values = dict(zip(attrs, row[2:-2], strict=True))
        # Written only when it differs from the birth name.
        if values["usage_name"] == values["birth_name"]:
            values["usage_name"] = ""
        # From the newest PECGM record, when France Travail has sent one.
        if values["ft_institution_code"]:
            values["ft_institution_code"] = _institution_code(values["ft_institution_code"])
        if values["ft_identifier"]:
            values["ft_identifier"] = values["ft_identifier"].strip()
        yield row[0], row[1], values, row[-2:]


def _institution_code(code: str) -> str:
    """Institution codes come padded or not ("076", "76"): the file wants three characters."""
    code = code.strip()
    return code.zfill(3) if code.isdigit() else code


class _Referents:
    """The SHARED values of each (referent body, correspondent) pair, fitted once per run.

    Reference data (a few hundred rows): read whole, kept for the run.
    """

    def __init__(self):
        self.bodies = {
            pk: referent_body_text(name, address)
            for pk, name, address in _values(ReferentBody, "name", "address")
        }
        self.correspondents = {
            pk: dict(zip(_CORRESPONDENT_ATTRS, values, strict=True))
            for pk, *values in _values(Correspondent, "last_name", "first_name", "phone", "email", "service")
        }
        self.fitted: dict[tuple[int, int | None], tuple[Fragment, _Findings]] = {}

    def __getitem__(self, key: tuple[int, int | None]) -> tuple[Fragment, _Findings]:
        """(fitted values, findings) of a (referent body id, correspondent id) pair."""
        fitted = self.fitted.get(key)
        if fitted is None:
            body, correspondent = key
            values = {"referent_body": self.bodies.get(body)}
            if correspondent is not None:
                values |= self.correspondents.get(correspondent, {})
            out = Fragment()  # the writer renders it once for all the pair's decisions
            fitted = self.fitted[key] = (out, fit_fields(_REFERENT_PLAN, values, out))
        return fitted


_CORRESPONDENT_ATTRS = [
    f"correspondent_{name}" for name in ("last_name", "first_name", "phone", "email", "service")
]


def _values(model, *fields):
    return model.objects.order_by().values_list("pk", *fields).iterator()


def fit_value(tag: str, item, attr: str, value) -> tuple[object, dict, str | None]:
    """(value to write or None, transliterated characters, warning) or raise Excluded."""
    if value is None or value == "":
        if item.required:
            raise Excluded(f"{tag} : valeur obligatoire absente")
        return None, {}, None
    if item.format == DATE:
        if not _writable_date(value):
            raise Excluded(f"{tag} : année sur moins de 4 chiffres (date mal saisie)")
        return value, {}, None
    if attr == "nir":
        return _fit_nir(tag, value)
    if item.format == A:
        # Names: a character outside the format becomes a space (never a reason to leave out).
        fitted = to_name(str(value))
    else:
        try:
            fitted = to_latin1(str(value))
        except NotLatin1 as exc:
            raise Excluded(
                f"{tag} : le caractère U+{ord(exc.character):04X} n'a pas d'équivalent en ISO-8859-1"
            ) from None
    text, replaced = fitted.text, fitted.replaced
    if not text:
        if attr in PERSON_NAMES:
            # Written empty (the element is required): fit_records leaves the decision out only
            # when nothing identifying remains.
            return None, replaced, f"{tag} : aucun caractère transmissible ; valeur non transmise"
        if item.required:
            raise Excluded(f"{tag} : valeur obligatoire absente")
        return None, replaced, None
    if item.codes is not None and text not in item.codes:
        raise Excluded(f"{tag} : code « {text} » inconnu")
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
        if attr in DROP_WITH_WARNING:
            return None, replaced, message + " ; valeur non transmise"
        if attr not in CUT_WITH_WARNING:
            raise Excluded(message)
        # Latin-1 has one byte per character: any cut is on a character boundary. A name
        # cut after a space or a hyphen would end with it.
        text = text[: item.length].rstrip(" -")
        warning = message + " ; valeur coupée"
    return text, replaced, warning


def _writable_date(value: date) -> bool:
    """A date the writer can put in 8 digits: strftime's %Y does not pad years below 1000."""
    return value.year >= 1000


def _fit_nir(tag: str, value: str) -> tuple[str | None, dict, str | None]:
    """The NIR's 13 characters, or None with a warning (never quoting the value) if it is not a NIR."""
    try:
        return nir_key(clean_nir(value)), {}, None
    except InvalidNIR as exc:
        return None, {}, f"{tag} : {exc} ; valeur non transmise"


# Runs of printable Latin-1 without spaces, per format: a value made of such runs separated by
# single spaces is already what `to_latin1` would make of it.
_WORD = {
    AN: r"[\x21-\x7e\xa1-\xff]",
    A: "[" + re.escape(NAME_CHARACTERS.replace(" ", "")) + "]",
}


def _fast_check(item) -> Callable[[str], object] | None:
    """A cheap test that a text can be written as it is (the common case); None for dates.

    One regular expression per element, length included, so that the test is a single call.
    Anything it does not vouch for goes through `fit_value`, which decides.
    """
    if item.format == DATE:
        return None
    if item.attr == "nir":
        return is_nir_key  # its format (AN) would let any text through
    if item.codes is not None:
        return item.codes.__contains__
    length = f"{item.length}" if item.fixed_length else f"1,{item.length}"
    if item.format == N:
        return re.compile(f"[0-9]{{{length}}}").fullmatch
    word = _WORD[item.format]
    return re.compile(f"(?=.{{{length}}}\\Z){word}+(?: {word}+)*", re.DOTALL).fullmatch


# (tag, field, attr, fast check) of each element, compiled once from the layout.
_PLAN = [(tag, item, attr, _fast_check(item)) for tag, item, attr in _LEAVES]
_PERSON_PLAN = [step for step in _PLAN if step[2] not in SHARED]
_REFERENT_PLAN = [step for step in _PLAN if step[2] in SHARED]
# The writer takes a fragment's elements as the record's last ones: SHARED must be those.
if [step[2] for step in _PLAN[-len(_REFERENT_PLAN) :]] != [step[2] for step in _REFERENT_PLAN]:
    raise RuntimeError("CGPEM: the referent's elements (SHARED) are no longer the record's last")
REFERENT_START = _REFERENT_PLAN[0][2]


@dataclass
class _Findings:
    """What fitting some values found beside the values themselves (the uncommon case)."""

    reasons: list[str] = field(default_factory=list)  # the decision cannot be sent
    replaced: list[tuple[str, dict]] = field(default_factory=list)  # (tag, transliterations)
    warnings: list[str] = field(default_factory=list)


NOTHING = _Findings()


def fit_fields(plan, values: dict, out: dict) -> _Findings:
    """Fit `values` (attr → raw value) element by element into `out`; NOTHING if all went as is.

    The reference: `compile_fit` makes the same steps per decision without the loop.
    """
    findings = NOTHING
    for step in plan:
        tag, item, attr, fast = step
        value = values.get(attr)
        if value is None or value == "":
            if item.required:
                findings = _missing(findings, tag)
            continue
        if (fast is None and _writable_date(value)) or (value.__class__ is str and fast(value)):
            out[attr] = value
            continue
        findings = _fit_slowly(findings, step, value, out)
    return findings


def _missing(findings: _Findings, tag: str) -> _Findings:
    if findings is NOTHING:
        findings = _Findings()
    findings.reasons.append(f"{tag} : valeur obligatoire absente")
    return findings


def _fit_slowly(findings: _Findings, step, value, out: dict) -> _Findings:
    """What the fast check did not vouch for: fit_value decides."""
    tag, item, attr, _fast = step
    if findings is NOTHING:
        findings = _Findings()
    try:
        text, replaced, warning = fit_value(tag, item, attr, value)
    except Excluded as exc:
        findings.reasons.append(str(exc))
        return findings
    if text is not None:
        out[attr] = text
    if replaced:
        findings.replaced.append((tag, replaced))
    if warning:
        findings.warnings.append(warning)
    return findings


def compile_fit(plan) -> Callable[[dict, dict], _Findings]:
    """`fit_fields` for one plan, generated once as straight-line code: fit(values, out).

    It runs for every decision: the loop, its tuple unpacking and its tests per element cost
    as much as the fitting itself. Same steps, same order (a test compares it with
    fit_fields on every sample value of every element).
    """
    lines = ["def fit(values, out):", "    get = values.get", "    findings = NOTHING"]
    namespace: dict = {
        "NOTHING": NOTHING,
        "_missing": _missing,
        "_fit_slowly": _fit_slowly,
        "_writable_date": _writable_date,
    }
    for number, step in enumerate(plan):
        tag, item, attr, fast = step
        namespace[f"_step{number}"], namespace[f"_fast{number}"] = step, fast
        lines += [
            f"    value = get({attr!r})",
            '    if value is None or value == "":',
            f"        {f'findings = _missing(findings, {tag!r})' if item.required else 'pass'}",
        ]
        if fast is None:
            lines.append("    elif _writable_date(value):")
        else:
            lines.append(f"    elif value.__class__ is str and _fast{number}(value):")
        lines += [
            f"        out[{attr!r}] = value",
            "    else:",
            f"        findings = _fit_slowly(findings, _step{number}, value, out)",
        ]
    lines.append("    return findings")
    exec("\n".join(lines), namespace)  # noqa: S102 - code generated from the layout's own fields
    return namespace["fit"]


_fit_person = compile_fit(_PERSON_PLAN)


def _identifies(get: Callable[[str], object]) -> bool:
    """Whether a fitted record holds one of the IDENTIFYING values."""
    return any(get(attr) for attr in IDENTIFYING)


def fit_decisions(decisions, report: Report, written: list[int] | None = None) -> Iterator[dict]:
    """`fit_records` over a queryset of decisions, in its order: the file's rules, for previews too."""
    return fit_records(_decision_rows(decisions), report, written)


NOTHING_IDENTIFYING = "aucun élément d'identification transmissible (NIR, IDENTIFIANT_PE, NOM_NAISSANCE)"


def fit_records(
    rows: Iterable[tuple[int, int, dict, tuple]], report: Report, written: list[int] | None = None
) -> Iterator[dict]:
    """The records that fit, ready for the writer; the others land in report.excluded.

    A record holds the person's values, and its referent's (SHARED) as one `Fragment` under
    FRAGMENT, the same object for every decision of a (body, correspondent) pair: the writer
    renders it once (write_file's `fragment=REFERENT_START`).
    `written`, when given, receives the id of each decision yielded.
    """
    referents = _Referents()
    fitted_referents = referents.fitted
    for pk, beneficiary_id, values, referent_key in rows:
        record: dict = {}
        person = _fit_person(values, record)
        if not _identifies(record.get):
            if person is NOTHING:
                person = _Findings()
            person.reasons.append(NOTHING_IDENTIFYING)
        pair = fitted_referents.get(referent_key)
        referent_values, referent = pair if pair is not None else referents[referent_key]
        if person is not NOTHING or referent is not NOTHING:
            if person.reasons or referent.reasons:
                report.excluded.append(
                    {
                        "decision": pk,
                        "beneficiary": beneficiary_id,
                        "reasons": person.reasons + referent.reasons,
                    }
                )
                continue
            for tag, replaced in person.replaced + referent.replaced:
                report.transliterations.append({"decision": pk, "field": tag, "replaced": dict(replaced)})
            for message in person.warnings + referent.warnings:
                report.warnings.append({"decision": pk, "beneficiary": beneficiary_id, "message": message})
        record[FRAGMENT] = referent_values
        if written is not None:
            written.append(pk)
        yield record


# --- Validating and archiving ------------------------------------------------------


def load_schema() -> etree.XMLSchema:
    return schema_for(CGPEM)


def validate_file(path: Path) -> None:
    """Prove the produced file whole and valid; raise CgpemError (French, naming the check).

    The proof is the project's own, not a side effect of one lxml version
    (lxml 6.2's iterparse with a schema ends a cut document without an
    error), and memory stays flat whatever the number of decisions:

    1. well-formed to its last byte: a plain streaming parse, without a
       schema, fails on any cut;
    2. the root is closed: its own end event must come;
    3. ENTETE first, then the records, FIN last, nothing else;
    4. FIN's NB_ENREGISTREMENTS equals the records counted, its DEPARTEMENT
       and DATE_REFERENCE the header's;
    5. ENTETE, each record and FIN pass their declaration in cgpem.xsd, one
       element at a time.
    """
    parts = part_schemas(CGPEM)
    header, detail, footer = CGPEM.header.tag, CGPEM.detail.tag, CGPEM.footer.tag
    count = 0
    closed = False
    identity: tuple[str, str] | None = None  # the header's DEPARTEMENT and DATE_REFERENCE
    announced: str | None = None
    last = None  # the root's child checked last, kept (emptied) until the next one is checked
    try:
        # Events for the root and its three kinds of children only: a record's fields (16 of
        # every 17 elements) are checked with their record, without a Python step each.
        # Anything else among the root's children is found as a sibling that should not be
        # there (below).
        for _event, element in etree.iterparse(
            str(path),
            events=("end",),
            tag=(CGPEM.name, header, detail, footer),
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
        ):
            parent = element.getparent()
            if parent is None:
                _check_siblings(element, element[-1] if len(element) else None, last, CGPEM.name)
                closed = element.tag == CGPEM.name
                continue
            if parent.getparent() is not None:
                continue  # inside a record (or an unexpected element): checked with it
            tag = element.tag
            _check_siblings(parent, element.getprevious(), last, tag)
            if tag == detail and identity and announced is None:
                count += 1
            elif tag == header and identity is None:
                identity = _identity(element)
            elif tag == footer and identity and announced is None:
                announced = element.findtext("NB_ENREGISTREMENTS", "").strip()
                if _identity(element) != identity:
                    raise CgpemError(
                        f"contrôle de cohérence : DEPARTEMENT ou DATE_REFERENCE de {footer} "
                        f"différent de {header}"
                    )
            else:
                raise CgpemError(f"contrôle de structure : élément {tag} inattendu à cette place")
            schema = parts[tag]
            if not schema.validate(element):
                # lxml's message quotes the faulty value (personal data): name the element only.
                field = re.search(r"Element '([A-Z_]+)'", str(schema.error_log.last_error))
                where = f", champ {field.group(1)}" if field and field.group(1) != tag else ""
                number = f" n° {count}" if tag == detail else ""
                raise CgpemError(f"contrôle cgpem.xsd : {tag}{number} non conforme{where}")
            element.clear(keep_tail=True)
            while element.getprevious() is not None:
                del parent[0]
            last = element
    except etree.XMLSyntaxError as exc:
        raise CgpemError(f"contrôle de complétude : XML tronqué ou mal formé, ligne {exc.lineno}") from None
    if not closed:
        raise CgpemError(f"contrôle de complétude : élément racine {CGPEM.name} non refermé")
    if identity is None:
        raise CgpemError(f"contrôle de structure : en-tête {header} absent")
    if announced is None:
        raise CgpemError(f"contrôle de complétude : pied {footer} absent")
    if announced != str(count):
        raise CgpemError(
            f"contrôle du nombre d'enregistrements : {footer} annonce {announced}, "
            f"le fichier en contient {count}"
        )


def _check_siblings(root: etree._Element, previous, last, tag: str) -> None:
    """Between the child checked last and the next one (`tag`, or the root's end), nothing but blanks.

    The root keeps only the child checked last (validate_file drops the others): any other
    `previous` node is one iterparse gave no event for (an element of another name, a
    comment, a processing instruction).
    """
    if previous is not last:
        name = previous.tag if isinstance(previous.tag, str) else "commentaire ou instruction"
        raise CgpemError(f"contrôle de structure : élément {name} inattendu à cette place")
    text = root.text if last is None else last.tail
    if (text or "").strip():
        raise CgpemError(f"contrôle de structure : texte hors enregistrement près de {tag}")


def _identity(element: etree._Element) -> tuple[str, str]:
    return (element.findtext("DEPARTEMENT", "").strip(), element.findtext("DATE_REFERENCE", "").strip())


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


# Ids per statement: what a statement's parameters cost in memory stays the same whatever the
# number of decisions.
_CARRIED_CHUNK = 20_000


def _mark_carried(ids: list[int], export: CgpemExport, db=connection) -> None:
    """Each decision written remembers the file that carried it (the pages show it).

    An upsert of narrow rows (CarriedDecision), a bounded number of ids per statement. On
    PostgreSQL the ids go as one array parameter: 20 000 placeholders would cost more to
    send than the rows to write. Elsewhere, the driver's executemany. `db`: the connection
    (generate_cgpem runs this in a thread, on its own transaction's connection).
    """
    upsert = (
        f"INSERT INTO {CarriedDecision._meta.db_table} (decision_id, export_id) {{rows}} "
        "ON CONFLICT (decision_id) DO UPDATE SET export_id = excluded.export_id"
    )
    with db.cursor() as cursor:
        postgresql = db.vendor == "postgresql"
        if postgresql:
            # The foreign keys' checks (one per row) with each statement rather than at the
            # commit: generate_cgpem runs this beside the validation, and the commit then has
            # nothing left to check (it was a second of a 150 000-decision export).
            constraints = ", ".join(
                db.ops.quote_name(name)
                for name, details in db.introspection.get_constraints(
                    cursor, CarriedDecision._meta.db_table
                ).items()
                if details["foreign_key"]
            )
            cursor.execute(f"SET CONSTRAINTS {constraints} IMMEDIATE")
        for start in range(0, len(ids), _CARRIED_CHUNK):
            chunk = ids[start : start + _CARRIED_CHUNK]
            if postgresql:
                cursor.execute(upsert.format(rows="SELECT unnest(%s::bigint[]), %s"), [chunk, export.pk])
            else:
                cursor.executemany(upsert.format(rows="VALUES (%s, %s)"), [(pk, export.pk) for pk in chunk])
        if postgresql:
            cursor.execute(f"SET CONSTRAINTS {constraints} DEFERRED")  # as Django declares them


class _Beside(threading.Thread):
    """A function run in a thread on this thread's database connection; its error kept in `error`.

    For database work (the server's, on the other core) while this thread works in Python:
    the caller must not use the connection until join().
    """

    def __init__(self, function: Callable, *args):
        super().__init__(daemon=True)
        self.db = connections[DEFAULT_DB_ALIAS]  # this thread's, not the new thread's own
        self.function, self.args, self.error = function, args, None

    def start(self) -> None:
        self.db.inc_thread_sharing()
        super().start()

    def run(self) -> None:
        try:
            self.function(*self.args, db=self.db)
        except BaseException as error:  # re-raised by join()
            self.error = error

    def join(self, timeout: float | None = None) -> None:
        super().join(timeout)
        self.db.dec_thread_sharing()


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
    # Before anything is written: every caller (command, deposit task) is refused alike.
    check_period_end(periodicity, period_end)
    departement = departement_on_three(settings.DEPARTEMENT)
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
        carried: list[int] = []
        records = fit_decisions(select_decisions(periodicity, period_start, period_end), report, carried)
        written = write_file(CGPEM, header, records, temp, encoding=ENCODING, fragment=REFERENT_START)
        final: Path | None = None
        try:
            with transaction.atomic():
                export = CgpemExport.objects.create(
                    file_name=file_name,
                    path="",  # set below, once validated and archived (nobody sees it before)
                    sha256="",
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
                # The decisions' rows are the database server's work: done while this process
                # validates the file. A failure of either rolls both back.
                marking = _Beside(_mark_carried, carried, export)
                marking.start()
                try:
                    validate_file(temp)
                    sha256 = file_sha256(temp)
                finally:
                    marking.join()
                if marking.error is not None:  # after the validation's own error, if any
                    raise marking.error
                final = _archive(temp, directory, file_name)
                export.path, export.sha256 = str(final), sha256
                export.save(update_fields=["path", "sha256"])
        except BaseException:
            if final is not None:
                final.unlink(missing_ok=True)  # no archive without its record
            raise
    finally:
        temp.unlink(missing_ok=True)
    if output is not None:
        copy_private(final, output)
    return export

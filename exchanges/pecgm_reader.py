"""Read a PECGM file from France Travail: streaming, hardened, driven by `layouts.PECGM`.

    reader = read_pecgm(path)            # opens the file and checks its header
    validation = reader.validate()       # one full pass, keeps nothing but issues
    for record in reader.records():      # a second pass, to write
        ...

Three levels of trouble, as issue 3 defines them:

- the whole file is wrong (not XML, truncated, hostile, wrong header or
  footer, another département, mis-encoded text, too big): `FileRejected` is
  raised, at open or *during or after* iteration. A truncated file yields its
  good records before the error, so a consumer must finish a whole pass
  (`validate()`, or `records()` to the end) before writing anything;
- one record is wrong (required field missing, bad date, value too long,
  not digits where digits are due): `ParsedRecord.errors`, the record is
  rejected, the others are not;
- a record is odd but usable (unknown code, label longer than the table,
  unknown element): `ParsedRecord.warnings`, the value is kept.

Hardening: the prolog is checked on the raw bytes before lxml sees the file
(a DOCTYPE, hence any entity declaration or external DTD, is refused there),
and lxml runs with no DTD loading, no entity resolution and no network; the
doctype is checked again on the parsed tree in case an exotic encoding hid it
from the byte scan. Elements are cleared and dropped as soon as they are read,
so memory stays flat whatever the file's size.

Messages are French and name the file, the record number and the field, but
never the value of a field (values are personal data and messages get
logged): the value travels apart, in `RecordIssue.value`.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from lxml import etree

from config.env import departement_code
from contract.layouts import DESCRIPTIVE, OPTIONAL, PECGM, Field, FileLayout, Record

# How much of the file's start is scanned for the prolog (declaration, comments, DOCTYPE, root).
PROLOG_SCAN_BYTES = 64 * 1024
# No record is anywhere near this size: more bytes than this without a recognised
# element means the file is not what it claims to be (see _Source).
MAX_BYTES_WITHOUT_RECORD = 4 * 2**20
# How many warnings `validate()` keeps as examples (all are counted).
WARNING_SAMPLES = 200
# How far ahead of this machine's date a production date may be (time zones, a clock off).
FUTURE_TOLERANCE = timedelta(days=1)

_LETTERS = re.compile(r"^(?:[^\W\d_]|[ '\-])*$")
# Text written in UTF-8 and read as ISO-8859-1 (or windows-1252) turns each
# non-ASCII character into a lead byte, 0xC2–0xF4 (`Â`…`ô`), followed by one,
# two or three continuation bytes, 0x80–0xBF: `é` → `Ã©`, `Š` → `Å` + no-break
# space, `ю` → `Ñ\x8e`, `’` → `â€™`. Any such well-formed sequence refuses the
# file, rather than storing names garbled.
# Can real Latin-1 text hold one? Only where a letter from 0xC2 on is directly
# followed by a character of 0x80–0xBF: C1 controls (never legitimate) and
# symbols (no-break space, « » ° · ² …); the only letters there are ª µ º, which
# no name puts after an accented letter. Lowercase accents (0xE0–0xEF) are
# leads of three bytes: "salarié·e" is not a sequence. What remains is a French
# capital followed by a no-break space, `·` or `»` ("ACTIVITÉ : ", "SALARIÉ·E"),
# which free text may hold: those pairs are let through (in UTF-8 they would be
# rare IPA, Greek or Arabic letters, and a UTF-8 file betrays itself elsewhere).
# The continuation bytes 0x80–0x9F are read as C1 controls in ISO-8859-1 and as
# `€ ‚ … ™ œ` and the like in windows-1252: both are listed.
_CONTINUATION = "[\u0080-\u00bf" + "".join(bytes(range(0x80, 0xA0)).decode("cp1252", errors="ignore")) + "]"
_FRENCH_TYPOGRAPHY = "[\u00c7-\u00cb\u00ce\u00cf\u00d4\u00d9\u00db\u00dc][\u00a0\u00b7\u00bb]"
_MOJIBAKE = re.compile(
    "[\u0080-\u009f]"  # a C1 control: never in text
    f"|(?!{_FRENCH_TYPOGRAPHY})[\u00c2-\u00df]{_CONTINUATION}"
    f"|[\u00e0-\u00ef]{_CONTINUATION}{{2}}"
    f"|[\u00f0-\u00f4]{_CONTINUATION}{{3}}"
)
_PROLOG = re.compile(rb"\A(?:\xef\xbb\xbf)?(?:\s+|<\?.*?\?>|<!--.*?-->)*<(!DOCTYPE|[^\s/>!?]+)", re.S)
_DECLARED_ENCODING = re.compile(
    rb"""\A(?:\xef\xbb\xbf)?<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._\-]+)["']"""
)


class FileRejected(Exception):
    """The whole file is refused: nothing of it may be written."""

    def __init__(self, message: str, *, record: int | None = None, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.record = record
        self.field = field


@dataclass
class Header:
    periodicity: str
    departement: str  # normalised: "82", "2A", "971"
    reference_date: date
    production_date: date
    version: str


@dataclass
class Footer:
    departement: str
    reference_date: date
    record_count: int


@dataclass
class RecordIssue:
    record: int
    field: str  # tag, or parent/child for an address element
    value: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ParsedRecord:
    number: int  # 1-based position among the DETAIL records
    values: dict[str, str | date | None]
    errors: list[RecordIssue] = field(default_factory=list)
    warnings: list[RecordIssue] = field(default_factory=list)

    @property
    def rejected(self) -> bool:
        return bool(self.errors)


@dataclass
class Validation:
    """What one full pass found, records themselves left out."""

    header: Header
    footer: Footer
    record_count: int
    rejected_records: int
    errors: list[RecordIssue]
    warnings_count: int
    warnings_by_field: dict[str, int]
    warning_samples: list[RecordIssue]

    @property
    def rejected_ratio(self) -> float:
        return self.rejected_records / self.record_count if self.record_count else 0.0


def parse_date(text: str) -> date | None:
    """YYYYMMDD → date; None when malformed (the caller decides whether that is an error)."""
    if len(text) != 8 or not text.isascii() or not text.isdigit():
        return None
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return None


_PLAIN_KIND, _DATE_KIND, _OTHER_KIND, _DESCRIPTIVE_KIND = 1, 2, 3, 4
# Values of a field the slow path (`_check`) found fine, remembered so as not to check
# them again (codes, communes, postcodes: a few hundred distinct values in a file).
_FINE_MAX = 4096
# Non-ASCII texts found well encoded, remembered likewise (labels, accented names).
_WELL_ENCODED_MAX = 20_000
# Only ASCII padding is trimmed: str.strip() would also eat U+0085 (a C1 control
# that betrays a mis-encoded file) and no-break spaces.
_PADDING = " \t\r\n"
# YYYYMMDD → date, shared by all readers: a file holds a few thousand distinct dates at most.
_DATES: dict[str, date] = {}
_DATES_MAX = 100_000

# The warnings' messages are the same for every record of a field and kind of trouble
# (the length found is in the value): the run's page groups them by field and message,
# « 38 × LIBELLE_MOTIF_RADIATION plus long que 20 caractères ».
TOO_LONG = "plus long que {length} caractères : gardé en entier"
NOT_DIGITS = "pas en chiffres comme prévu : gardé tel quel"
UNKNOWN_CODE = "code inconnu de la table, conservé"
DATE_DROPPED = "date inexistante ou mal écrite : écartée, l'enregistrement est gardé"
VALUE_DROPPED = "n'a pas la forme attendue ({shape}) : écarté, l'enregistrement est gardé"
UNKNOWN_ELEMENT = "élément inconnu, ignoré"
BAD_DATE = "date invalide (attendu AAAAMMJJ, une date qui existe)"
BAD_SHAPE = "n'a pas la forme attendue ({shape})"


class _Leaf:
    """A layout field compiled for fast checking, its policy (`Field.role`) included."""

    __slots__ = (
        "path",
        "attr",
        "field",
        "digits",
        "letters",
        "kind",
        "length",
        "role",
        "shape",
        "pattern",
        "quick",
        "fine",
    )

    def __init__(self, path: str, attr: str, item: Field):
        self.path = path
        self.attr = attr
        self.field = item
        self.digits = item.format == "N"
        self.letters = item.format == "A"
        self.length = item.length or 0
        self.role = item.role
        self.shape = item.shape
        self.pattern = re.compile(item.shape.pattern) if item.shape and item.shape.pattern else None
        # Most fields are plain descriptive text, or dates: those two take a fast path
        # (a file has millions of values); the rest go to _check().
        if item.is_date:
            self.kind = _DATE_KIND
        elif item.role == DESCRIPTIVE and not (self.digits or item.codes):
            self.kind = _DESCRIPTIVE_KIND
        elif (
            item.role is None
            and item.format == "AN"
            and item.length
            and not (item.is_label or item.fixed_length or item.codes or item.constant)
        ):
            self.kind = _PLAIN_KIND
        else:
            self.kind = _OTHER_KIND
        # The slow path's shortcuts (see `_read`): `quick(text)` true only for a value the
        # slow path takes as it is, without an issue; else `fine`, the values it took so.
        self.quick = self._quick() if self.kind == _OTHER_KIND else None
        self.fine: set[str] | None = set() if self.kind == _OTHER_KIND and self.quick is None else None

    def _quick(self) -> Callable[[str], bool] | None:
        """For an identifying or optional value of a shape (a NIR, a name, an identifier):
        within the table's length and of its shape, `_check_by_role` has nothing to say.

        Only for fields without codes or digits, whose other checks then cannot apply.
        """
        item, shape = self.field, self.shape
        if item.role is None or shape is None or item.codes is not None or self.digits:
            return None
        limit = min(self.length, shape.max_length)
        check = shape.check
        match = self.pattern.fullmatch if self.pattern is not None else None
        if match is None and check is None:
            return lambda text: len(text) <= limit
        if check is None:
            return lambda text: len(text) <= limit and match(text) is not None
        if match is None:
            return lambda text: len(text) <= limit and check(text)
        return lambda text: len(text) <= limit and match(text) is not None and check(text)


class _RecordPlan:
    """A record layout compiled once: leaves by tag, groups by tag, required leaves."""

    def __init__(self, record: Record):
        self.tag = record.tag
        self.attrs = [attr for _, _, attr in record.flat_fields()]
        self.template: dict[str, Any] = dict.fromkeys(self.attrs)
        self.leaves: dict[str, _Leaf] = {}
        self.groups: dict[str, dict[str, _Leaf]] = {}
        self.required: list[_Leaf] = []
        for item in record.fields:
            if item.is_group:
                self.groups[item.tag] = {
                    child.tag: _Leaf(f"{item.tag}/{child.tag}", f"{item.attr}_{child.attr}", child)
                    for child in item.children
                }
                self.required += [leaf for leaf in self.groups[item.tag].values() if leaf.field.required]
            else:
                leaf = _Leaf(item.tag, item.attr, item)
                self.leaves[item.tag] = leaf
                if item.required:
                    self.required.append(leaf)


class PecgmReader:
    """One PECGM file. See the module docstring for the contract."""

    def __init__(
        self,
        source: str | os.PathLike | IO[bytes],
        *,
        departement: str | None = None,
        max_size: int | None = None,
        file_name: str | None = None,
        layout: FileLayout = PECGM,
    ):
        self.layout = layout
        self.source = source
        if file_name is None:
            raw = source if isinstance(source, (str, os.PathLike)) else getattr(source, "name", "")
            file_name = Path(os.fsdecode(raw)).name if raw else "(fichier sans nom)"
        self.file_name = file_name
        if departement is None or max_size is None:
            departement = settings.DEPARTEMENT if departement is None else departement
            max_size = settings.PECGM_MAX_FILE_SIZE if max_size is None else max_size
        self.departement = departement_code(departement) or departement
        self.max_size = max_size
        self.declared_encoding = "UTF-8"
        self.footer: Footer | None = None
        self._header_plan = _RecordPlan(layout.header)
        self._detail_plan = _RecordPlan(layout.detail)
        self._footer_plan = _RecordPlan(layout.footer)
        self._well_encoded: set[str] = set()
        self._pending: tuple[Any, Iterator, etree._Element] | None = None
        self._pending = self._open()
        self.header: Header = self._first_header

    # --- public API -----------------------------------------------------

    def records(self) -> Iterator[ParsedRecord]:
        """Every DETAIL, in order. Raises FileRejected on a structural problem, possibly at the end."""
        handle, events, root = self._pending or self._open()
        self._pending = None
        self._source = handle
        self._root = root  # kept for tests: what the tree still holds
        plan = self._detail_plan
        count = 0
        footer: Footer | None = None
        footer_element: etree._Element | None = None
        closed = False
        try:
            for element in self._next_elements(events):
                tag = element.tag
                if element is root:
                    closed = True
                    continue
                if footer is not None:
                    raise self._reject(f"élément {tag} après le pied de fichier FIN")
                if element.getparent() is not root:
                    raise self._reject(f"élément {tag} mal placé (hors de la racine)", record=count or None)
                self._drop_previous(element, root, count)
                if tag == plan.tag:
                    count += 1
                    self._progress = count
                    record = self._parse_detail(element, count)
                    element.clear(keep_tail=True)
                    yield record
                elif tag == self._footer_plan.tag:
                    footer = self._parse_footer(element, count)
                    footer_element = element
                    element.clear(keep_tail=True)
                else:
                    raise self._reject("en-tête ENTETE en double", record=count or None)
            if footer is None:
                raise self._reject(
                    f"pied de fichier {self._footer_plan.tag} absent (fichier tronqué ?) "
                    f"après l'enregistrement {count}",
                    record=count or None,
                )
            if footer_element.getnext() is not None:
                raise self._reject(
                    f"élément inattendu {footer_element.getnext().tag} après le pied de fichier"
                )
            if not closed:
                raise self._reject(f"élément racine {self.layout.name} non refermé (fichier tronqué)")
            self.footer = footer
        finally:
            handle.close()

    def validate(self) -> Validation:
        """Read the whole file once; raise FileRejected or return what was found."""
        count = rejected = warnings_count = 0
        errors: list[RecordIssue] = []
        by_field: Counter[str] = Counter()
        samples: list[RecordIssue] = []
        for record in self.records():
            count += 1
            if record.errors:
                rejected += 1
                errors.extend(record.errors)
            for warning in record.warnings:
                warnings_count += 1
                by_field[warning.field] += 1
                if len(samples) < WARNING_SAMPLES:
                    samples.append(warning)
        assert self.footer is not None
        return Validation(
            header=self.header,
            footer=self.footer,
            record_count=count,
            rejected_records=rejected,
            errors=errors,
            warnings_count=warnings_count,
            warnings_by_field=dict(by_field),
            warning_samples=samples,
        )

    def close(self) -> None:
        if self._pending is not None:
            self._pending[0].close()
            self._pending = None

    def __enter__(self) -> PecgmReader:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # --- opening: size, prolog, header ------------------------------------

    def _open(self) -> tuple[Any, Iterator, etree._Element]:
        handle = self._open_handle()
        try:
            self._check_prolog(handle)
            events = iter(
                etree.iterparse(
                    handle,
                    events=("end",),
                    # The root too: its end event is the reader's own proof that the document
                    # was read to its end (records() checks it), whatever lxml does with a cut file.
                    tag=(
                        self.layout.name,
                        self._header_plan.tag,
                        self._detail_plan.tag,
                        self._footer_plan.tag,
                    ),
                    resolve_entities=False,
                    no_network=True,
                    load_dtd=False,
                    dtd_validation=False,
                    huge_tree=False,
                    remove_comments=True,
                    remove_pis=True,
                )
            )
            self._progress = 0
            self._source = handle
            first = next(self._next_elements(events), None)
            if first is None or first.getparent() is None:  # nothing, or an empty root
                raise self._reject(f"en-tête {self._header_plan.tag} absent")
            root = first.getroottree().getroot()
            if root.getroottree().docinfo.doctype:
                raise self._reject("le document contient une déclaration DOCTYPE, refusée par sécurité")
            if root.tag != self.layout.name:
                raise self._reject(f"élément racine {root.tag} au lieu de {self.layout.name}")
            if first.tag != self._header_plan.tag or first.getparent() is not root:
                raise self._reject(f"le fichier ne commence pas par l'en-tête {self._header_plan.tag}")
            if first.getprevious() is not None:
                raise self._reject(f"élément inattendu avant l'en-tête {self._header_plan.tag}")
            self._first_header = self._parse_header(first)
            first.clear(keep_tail=True)
            return handle, events, root
        except BaseException:
            handle.close()
            raise

    def _open_handle(self):
        if isinstance(self.source, (str, os.PathLike)):
            try:
                size = os.path.getsize(self.source)
            except OSError as error:
                raise self._reject(f"fichier illisible ({error.strerror})") from None
            self._check_size(size)
            handle = open(self.source, "rb")  # noqa: SIM115 (closed by records() or close())
            return _Source(handle, owned=True, max_size=self.max_size)
        handle = self.source
        handle.seek(0, os.SEEK_END)
        self._check_size(handle.tell())
        handle.seek(0)
        return _Source(handle, owned=False, max_size=self.max_size)

    def _check_size(self, size: int) -> None:
        if size == 0:
            raise self._reject("le fichier est vide")
        if size > self.max_size:
            raise self._reject(
                f"le fichier fait {size} octets, au-delà de la limite de {self.max_size} octets "
                "(réglage PECGM_MAX_FILE_SIZE_MB)"
            )

    def _check_prolog(self, handle) -> None:
        head = handle.read(PROLOG_SCAN_BYTES)
        handle.seek(0)
        if head.startswith((b"\xfe\xff", b"\xff\xfe", b"\x00")) or head[1:2] == b"\x00":
            raise self._reject("encodage UTF-16 ou UTF-32 non pris en charge (ISO-8859-1 attendu)")
        declared = _DECLARED_ENCODING.match(head)
        if declared:
            self.declared_encoding = declared.group(1).decode("ascii").upper()
        if b"<!DOCTYPE" in head or b"<!ENTITY" in head:
            raise self._reject(
                "le document contient une déclaration DOCTYPE ou ENTITY, refusée par sécurité "
                "(entités externes, expansion d'entités)"
            )
        match = _PROLOG.match(head)
        if not match:
            if not head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
                raise self._reject("ce n'est pas un document XML")
            raise self._reject("début du document XML illisible (prologue invalide ou trop long)")
        root = match.group(1).decode("latin-1")
        if root != self.layout.name:
            raise self._reject(f"élément racine {root[:40]} au lieu de {self.layout.name}")

    # --- iteration helpers --------------------------------------------------

    def _next_elements(self, events: Iterator) -> Iterator[etree._Element]:
        """The parsed elements, lxml's syntax errors turned into FileRejected."""
        while True:
            try:
                _, element = next(events)
                self._source.mark = self._source.position
            except StopIteration:
                return
            except _Stalled as error:
                raise self._reject(str(error), record=self._progress or None) from None
            except etree.XMLSyntaxError as error:
                done = self._progress
                after = f" après l'enregistrement {done}" if done else ""
                raise self._reject(
                    f"XML mal formé ou fichier tronqué{after}, ligne {error.lineno} ({_technical(error)})",
                    record=done + 1 if done else None,
                ) from None
            yield element

    def _drop_previous(self, element: etree._Element, root: etree._Element, count: int) -> None:
        """Forget the records already read: only header and details may come before."""
        allowed = (self._header_plan.tag, self._detail_plan.tag)
        while (previous := element.getprevious()) is not None:
            if previous.tag not in allowed:
                raise self._reject(f"élément inattendu {previous.tag} après l'enregistrement {count}")
            del root[0]

    def _reject(self, detail: str, *, record: int | None = None, field: str | None = None) -> FileRejected:
        where = ""
        if record is not None:
            where += f"enregistrement {record}, "
        if field is not None:
            where += f"champ {field}, "
        return FileRejected(f"Fichier {self.file_name} refusé : {where}{detail}.", record=record, field=field)

    # --- records ------------------------------------------------------------------

    def _read(
        self,
        plan: _RecordPlan,
        element: etree._Element,
        number: int,
    ) -> tuple[dict[str, Any], list[RecordIssue], list[RecordIssue]]:
        values: dict[str, Any] = plan.template.copy()
        errors: list[RecordIssue] = []
        warnings: list[RecordIssue] = []
        leaves, groups = plan.leaves, plan.groups
        pairs: list[tuple[_Leaf, str | None]] = []
        for child in element:
            tag = child.tag
            leaf = leaves.get(tag)
            if leaf is not None:
                pairs.append((leaf, child.text))
                continue
            group = groups.get(tag)
            if group is None:
                warnings.append(RecordIssue(number, str(tag), "", UNKNOWN_ELEMENT))
                continue
            for grandchild in child:
                leaf = group.get(grandchild.tag)
                if leaf is None:
                    path = f"{tag}/{grandchild.tag}"
                    warnings.append(RecordIssue(number, path, "", UNKNOWN_ELEMENT))
                else:
                    pairs.append((leaf, grandchild.text))
        dates = _DATES
        well_encoded = self._well_encoded
        for leaf, raw in pairs:
            if not raw:
                continue
            text = raw.strip(_PADDING)
            if not text:
                continue
            if not text.isascii() and text not in well_encoded:
                self._check_encoding(leaf, text, number)
                if len(well_encoded) < _WELL_ENCODED_MAX:
                    well_encoded.add(text)
            kind = leaf.kind
            if kind == _DESCRIPTIVE_KIND:
                values[leaf.attr] = text
                if len(text) > leaf.length:
                    warnings.append(RecordIssue(number, leaf.path, text, TOO_LONG.format(length=leaf.length)))
            elif kind == _DATE_KIND:
                parsed = dates.get(text)
                if parsed is None:
                    if text == "00000000":
                        continue
                    parsed = parse_date(text)
                    if parsed is None:
                        if leaf.role == OPTIONAL:
                            warnings.append(RecordIssue(number, leaf.path, text, DATE_DROPPED))
                        else:
                            errors.append(RecordIssue(number, leaf.path, text, BAD_DATE))
                        continue
                    if len(dates) < _DATES_MAX:
                        dates[text] = parsed
                values[leaf.attr] = parsed
            elif kind == _PLAIN_KIND:
                values[leaf.attr] = text
                if len(text) > leaf.length:
                    errors.append(
                        RecordIssue(
                            number,
                            leaf.path,
                            text,
                            f"valeur trop longue ({len(text)} caractères, {leaf.length} au plus)",
                        )
                    )
            else:
                quick = leaf.quick
                if quick is not None:
                    if quick(text):
                        values[leaf.attr] = text
                        continue
                elif text in leaf.fine:
                    values[leaf.attr] = text
                    continue
                issues = len(errors) + len(warnings)
                self._check(leaf, text, number, values, errors, warnings)
                fine = leaf.fine
                if fine is not None and len(errors) + len(warnings) == issues and len(fine) < _FINE_MAX:
                    fine.add(text)  # taken as it is: the same text is taken so again
        for leaf in plan.required:
            if values[leaf.attr] is None and not any(issue.field == leaf.path for issue in errors):
                errors.append(RecordIssue(number, leaf.path, "", "champ obligatoire absent ou vide"))
        return values, errors, warnings

    def _check_encoding(self, leaf: _Leaf, text: str, number: int) -> None:
        suspect = _MOJIBAKE.search(text)
        if suspect:
            shown = " ".join(f"U+{ord(ch):04X}" for ch in suspect.group())
            raise self._reject(
                f"caractères mal encodés ({shown} : texte UTF-8 lu comme {self.declared_encoding}, "
                f"ou caractère de contrôle) ; le fichier déclare l'encodage {self.declared_encoding} "
                "mais ne le respecte pas",
                record=number or None,
                field=leaf.path,
            )

    def _check(self, leaf: _Leaf, text: str, number: int, values, errors, warnings) -> None:
        """The slow path: shapes, codes, digits; header, footer and constants."""
        if leaf.role is not None:
            self._check_by_role(leaf, text, number, values, errors, warnings)
            return
        item = leaf.field
        values[leaf.attr] = text
        length = item.length
        if length is not None and len(text) > length:
            errors.append(
                RecordIssue(
                    number,
                    leaf.path,
                    text,
                    f"valeur trop longue ({len(text)} caractères, {length} au plus)",
                )
            )
            return
        if item.fixed_length and length is not None and len(text) != length:
            errors.append(
                RecordIssue(number, leaf.path, text, f"longueur {len(text)} au lieu de {length} caractères")
            )
            return
        if leaf.digits and not (text.isascii() and text.isdigit()):
            errors.append(RecordIssue(number, leaf.path, text, "valeur non numérique (chiffres attendus)"))
        elif leaf.letters and not _LETTERS.match(text):
            errors.append(
                RecordIssue(
                    number, leaf.path, text, "caractères non autorisés (lettres, espace, tiret, apostrophe)"
                )
            )
        elif item.constant is not None and text != item.constant:
            errors.append(
                RecordIssue(number, leaf.path, text, f"valeur inattendue ({item.constant} attendu)")
            )
        elif item.codes is not None and text not in item.codes:
            warnings.append(RecordIssue(number, leaf.path, text, UNKNOWN_CODE))

    def _check_by_role(self, leaf: _Leaf, text: str, number: int, values, errors, warnings) -> None:
        """A PECGM value, by its policy (layouts.ROLE_POLICIES)."""
        shape = leaf.shape
        if shape is not None and not (
            len(text) <= shape.max_length
            and (leaf.pattern is None or leaf.pattern.fullmatch(text))
            and (shape.check is None or shape.check(text))
        ):
            if leaf.role == OPTIONAL:
                warnings.append(
                    RecordIssue(number, leaf.path, text, VALUE_DROPPED.format(shape=shape.description))
                )
            elif leaf.role == DESCRIPTIVE:
                values[leaf.attr] = text
                warnings.append(
                    RecordIssue(number, leaf.path, text, BAD_SHAPE.format(shape=shape.description))
                )
            else:
                # The record is refused; its values still say whom France Travail sent it about
                # (the NIR's 13 first characters, a wrong key and all: « reçu, illisible »).
                values[leaf.attr] = text
                errors.append(RecordIssue(number, leaf.path, text, BAD_SHAPE.format(shape=shape.description)))
            return
        values[leaf.attr] = text
        # One warning a value at most, the first of these that applies.
        codes = leaf.field.codes
        if len(text) > leaf.length and (
            shape is None or (shape.check is None and shape.max_length > leaf.length)
        ):
            # Identifying values reach here only within their shape's bound (a long name).
            warnings.append(RecordIssue(number, leaf.path, text, TOO_LONG.format(length=leaf.length)))
        elif leaf.digits and not (text.isascii() and text.isdigit()):
            warnings.append(RecordIssue(number, leaf.path, text, NOT_DIGITS))
        elif codes is not None and text not in codes:
            warnings.append(RecordIssue(number, leaf.path, text, UNKNOWN_CODE))

    def _parse_detail(self, element: etree._Element, number: int) -> ParsedRecord:
        values, errors, warnings = self._read(self._detail_plan, element, number)
        return ParsedRecord(number, values, errors, warnings)

    def _structure(self, plan: _RecordPlan, element: etree._Element, record: int | None) -> dict[str, Any]:
        """Header or footer values; any problem in them rejects the file."""
        values, errors, warnings = self._read(plan, element, 0)
        for issue in errors + warnings:
            raise self._reject(f"{plan.tag} : {issue.message}", record=record, field=issue.field)
        return values

    def _parse_header(self, element: etree._Element) -> Header:
        values = self._structure(self._header_plan, element, None)
        departement = departement_code(values["departement"])
        if departement is None:
            raise self._reject("ENTETE : code département invalide", field="DEPARTEMENT")
        if departement != self.departement:
            raise self._reject(
                f"le fichier concerne le département {departement}, "
                f"cette instance sert le {self.departement}",
                field="DEPARTEMENT",
            )
        reference, produced = values["reference_date"], values["production_date"]
        # A situation of a month after the file was made, or a file made in the future, is an
        # error upstream; imported, its date would stand as everyone's latest situation, and
        # the real next month would change nothing (an older month never overrides a newer
        # one). A monthly stock's reference is a month: France Travail makes the stock of the
        # 31st on the 28th, and a flux may be dated at the end of its month too; only a later
        # *month* is refused.
        if (reference.year, reference.month) > (produced.year, produced.month):
            raise self._reject(
                f"ENTETE : le mois de référence ({reference:%m/%Y}, date {reference:%d/%m/%Y}) est "
                f"postérieur au mois de fabrication ({produced:%m/%Y}, date {produced:%d/%m/%Y})",
                field="DATE_REFERENCE",
            )
        if produced > date.today() + FUTURE_TOLERANCE:
            raise self._reject(
                f"ENTETE : la date de fabrication ({produced:%d/%m/%Y}) est dans le futur",
                field="DATE_FABRICATION",
            )
        return Header(
            periodicity=values["periodicity"],
            departement=departement,
            reference_date=values["reference_date"],
            production_date=values["production_date"],
            version=values["version"],
        )

    def _parse_footer(self, element: etree._Element, count: int) -> Footer:
        values = self._structure(self._footer_plan, element, None)
        departement = departement_code(values["departement"])
        if departement != self.header.departement:
            raise self._reject("FIN : le département diffère de celui de l'en-tête", field="DEPARTEMENT")
        if values["reference_date"] != self.header.reference_date:
            raise self._reject(
                "FIN : la date de référence diffère de celle de l'en-tête", field="DATE_REFERENCE"
            )
        announced = int(values["record_count"])
        if announced != count:
            raise self._reject(
                f"FIN annonce {announced} enregistrements, le fichier en contient {count}",
                field="NB_ENREGISTREMENTS",
            )
        return Footer(departement=departement, reference_date=values["reference_date"], record_count=count)


def _technical(error: etree.XMLSyntaxError) -> str:
    """libxml2's message, first line only: the next ones may quote bytes of a name."""
    return (error.msg or "").splitlines()[0] if error.msg else "erreur de syntaxe"


class _Stalled(Exception):
    """Raised from inside lxml's reads: too many bytes without a recognised element, or too big."""


class _Source:
    """The file as lxml reads it, byte-counted.

    lxml builds in memory whatever the tag filter does not hand back to us, so
    a file whose records carry another name (or a namespace) would be loaded
    whole before we could drop anything. Counting bytes between two handed-back
    elements bounds that; counting them at all enforces the size limit even on
    a file that grows while it is read.
    """

    def __init__(self, handle: IO[bytes], *, owned: bool, max_size: int):
        self.handle = handle
        self.owned = owned
        self.max_size = max_size
        self.position = 0
        self.mark = 0

    def read(self, size: int = -1) -> bytes:
        data = self.handle.read(size)
        self.position += len(data)
        if self.position - self.mark > MAX_BYTES_WITHOUT_RECORD:
            raise _Stalled(
                f"aucun élément ENTETE, DETAIL ou FIN reconnu sur {MAX_BYTES_WITHOUT_RECORD // 2**20} Mo "
                "(balises inconnues, espace de noms XML ou élément démesuré)"
            )
        if self.position > self.max_size:
            raise _Stalled(f"le fichier dépasse la limite de {self.max_size} octets en cours de lecture")
        return data

    def seek(self, offset: int, whence: int = 0) -> int:
        self.position = self.mark = self.handle.seek(offset, whence)
        return self.position

    def close(self) -> None:
        # The caller owns a file object it handed us: closing our view must not close theirs.
        if self.owned:
            self.handle.close()


def read_pecgm(
    path: str | os.PathLike | IO[bytes],
    *,
    departement: str | None = None,
    max_size: int | None = None,
    file_name: str | None = None,
) -> PecgmReader:
    """Open a PECGM file and check its header; raise FileRejected if the start is already wrong.

    `departement` defaults to settings.DEPARTEMENT, `max_size` (bytes) to
    settings.PECGM_MAX_FILE_SIZE, `file_name` (used in messages) to the path's
    name. Remember: finish a whole pass before writing anything.
    """
    return PecgmReader(path, departement=departement, max_size=max_size, file_name=file_name)

"""Write a PECGM or CGPEM file from a `FileLayout`: header, records, computed footer.

The writer is deliberately dumb: it writes the values it is given, in the
layout's order, and nothing else. It does not transliterate, truncate or
validate (the CGPEM export does that on top, in orientations/cgpem.py, and
checks its output against the XSD). The one thing it refuses is a character
the target encoding cannot hold: lxml would silently write it as a character
reference (`&#339;`), which France Travail's Latin-1 reader would show as
garbage, so it raises `UnencodableValue` instead.

It streams (`lxml.etree.xmlfile`): one small element tree per record, written
and dropped, so memory does not grow with the number of records.
"""

from __future__ import annotations

import codecs
import functools
import os
from collections.abc import Iterable, Mapping
from datetime import date
from pathlib import Path
from typing import IO, Any

from lxml import etree

from exchanges.layouts import VERSION, FileLayout, Record


class UnencodableValue(ValueError):
    """A value holds a character the file's encoding cannot represent."""

    def __init__(self, *, record: int | None, field: str, character: str, encoding: str):
        self.record = record
        self.field = field
        self.character = character
        self.encoding = encoding
        where = "en-tête" if record is None else f"enregistrement {record}"
        super().__init__(
            f"{where}, champ {field} : le caractère U+{ord(character):04X} ne peut pas être écrit "
            f"en {encoding} (translittérez la valeur avant l'écriture)"
        )


def format_value(value: Any) -> str:
    """The text of an element: dates as YYYYMMDD, everything else as str; None is ''."""
    if value is None:
        return ""
    if isinstance(value, date):
        return value.strftime("%Y%m%d")
    return str(value)


def departement_on_three(value: str) -> str:
    """`82` → `082`, `2A` → `02A`, `971` unchanged: the files' (and file names') spelling."""
    return str(value).strip().upper().rjust(3, "0")


class _Plan:
    """A record layout compiled once: (tag, attr, constant, required) or (tag, children) per element."""

    def __init__(self, record: Record):
        self.tag = record.tag
        self.items: list[tuple[str, str | None, str | None, bool, tuple]] = []
        for item in record.fields:
            if item.is_group:
                children = tuple((child.tag, f"{item.attr}_{child.attr}") for child in item.children)
                self.items.append((item.tag, None, None, False, children))
            else:
                self.items.append((item.tag, item.attr, item.constant, item.required, ()))


class _Encoder:
    def __init__(self, encoding: str):
        self.encoding = encoding
        info = codecs.lookup(encoding)
        # UTF-8 (and the other UTFs) can hold anything: nothing to check.
        self.check = not info.name.startswith("utf")
        self.encode = info.encode

    def verify(self, text: str, record: int | None, field: str) -> None:
        if not self.check or text.isascii():
            return
        try:
            self.encode(text)
        except UnicodeEncodeError as error:
            raise UnencodableValue(
                record=record, field=field, character=text[error.start], encoding=self.encoding
            ) from None


def _build(plan: _Plan, values: Mapping[str, Any], encoder: _Encoder, number: int | None) -> etree._Element:
    element = etree.Element(plan.tag)
    sub = etree.SubElement
    for tag, attr, constant, required, children in plan.items:
        if children:
            texts = []
            for child_tag, child_attr in children:
                text = format_value(values.get(child_attr))
                if text:
                    texts.append((child_tag, text))
            if texts:
                group = sub(element, tag)
                for child_tag, text in texts:
                    encoder.verify(text, number, f"{tag}/{child_tag}")
                    sub(group, child_tag).text = text
            continue
        value = values.get(attr)
        if value is None and constant is not None:
            value = constant
        text = format_value(value)
        if not text and not required:
            continue
        encoder.verify(text, number, tag)
        sub(element, tag).text = text
    return element


def write_file(
    layout: FileLayout,
    header: Mapping[str, Any],
    records: Iterable[Mapping[str, Any]],
    destination: str | os.PathLike | IO[bytes],
    *,
    encoding: str = "ISO-8859-1",
) -> int:
    """Write `records` (dicts keyed by the layout's attrs) and return how many were written.

    `header` gives `periodicity`, `departement`, `reference_date` and optionally
    `production_date` (default today) and `version`. The footer is computed:
    count of records, the header's département and reference date. A path
    destination is written to a temporary file renamed at the end, so that a
    failure never leaves a half-written file under the final name.
    """
    header_values = dict(header)
    header_values["departement"] = departement_on_three(header_values["departement"])
    header_values.setdefault("production_date", date.today())
    header_values.setdefault("version", VERSION)
    header_values.setdefault("file_kind", layout.fichier)

    if isinstance(destination, (str, os.PathLike)):
        final = Path(destination)
        temporary = final.with_name(f".{final.name}.tmp")
        try:
            with open(temporary, "wb") as handle:
                count = _write(layout, header_values, records, handle, encoding)
            os.replace(temporary, final)
        finally:
            temporary.unlink(missing_ok=True)
        return count
    return _write(layout, header_values, records, destination, encoding)


def _write(
    layout: FileLayout, header: dict[str, Any], records: Iterable[Mapping[str, Any]], handle, encoding: str
) -> int:
    encoder = _Encoder(encoding)
    detail = _Plan(layout.detail)
    count = 0
    with etree.xmlfile(handle, encoding=encoding) as xf:
        xf.write_declaration()
        with xf.element(layout.name):
            xf.write("\n")
            xf.write(_build(_Plan(layout.header), header, encoder, None))
            xf.write("\n")
            for values in records:
                count += 1
                xf.write(_build(detail, values, encoder, count))
                xf.write("\n")
            footer = {
                "departement": header["departement"],
                "reference_date": header["reference_date"],
                "record_count": count,
            }
            xf.write(_build(_Plan(layout.footer), footer, encoder, None))
            xf.write("\n")
    return count


SCHEMAS_DIR = Path(__file__).resolve().parent / "schemas"


def schema_for(layout: FileLayout) -> etree.XMLSchema:
    """The XSD of a layout's file (exchanges/schemas/pecgm.xsd, cgpem.xsd), parsed once."""
    return _schema(layout.name)


@functools.cache
def _schema(name: str) -> etree.XMLSchema:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    return etree.XMLSchema(etree.parse(str(SCHEMAS_DIR / f"{name.lower()}.xsd"), parser))

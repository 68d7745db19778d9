"""Write a PECGM or CGPEM file from a `FileLayout`: header, records, computed footer.

The writer is deliberately dumb: it writes the values it is given, in the
layout's order, and nothing else. It does not transliterate, truncate or
validate (the CGPEM export does that on top, in orientations/cgpem.py, and
checks its output against the XSD). The one thing it refuses is a character
the target encoding cannot hold: lxml would silently write it as a character
reference (`&#339;`), which France Travail's Latin-1 reader would show as
garbage, so it raises `UnencodableValue` instead; and, as lxml does, a
character XML cannot hold at all (a control character), `ForbiddenCharacter`.

Why not lxml's `etree.xmlfile`: building one element tree per record cost more
than everything else of a 150 000-decision CGPEM together (docs/performance.md,
"CGPEM"). These files are flat (records of elements holding text, an address
group at most), so each record layout is compiled once into its tags, and a
record is written as text: escaped exactly as lxml escapes it (`&`, `<`, `>`
and carriage returns), byte for byte the same output (a test compares them).
Whatever reads these files parses them with lxml (the CGPEM export validates
its output against cgpem.xsd before saving it).

It streams: each record is written and dropped, so memory does not grow with
the number of records.
"""

from __future__ import annotations

import codecs
import copy
import functools
import os
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import date
from pathlib import Path
from typing import IO, Any

from lxml import etree

from config.private_files import open_private
from contract.departement import departement_on_three
from contract.layouts import VERSION, FileLayout, Record


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


class ForbiddenCharacter(ValueError):
    """A value holds a character XML 1.0 cannot hold in any encoding (a control character)."""

    def __init__(self, *, record: int | None, field: str, character: str):
        self.record = record
        self.field = field
        self.character = character
        where = "en-tête" if record is None else f"enregistrement {record}"
        super().__init__(f"{where}, champ {field} : le caractère U+{ord(character):04X} est interdit en XML")


def format_value(value: Any) -> str:
    """The text of an element: dates as YYYYMMDD, everything else as str; None is ''."""
    if value is None:
        return ""
    if isinstance(value, date):
        return value.strftime("%Y%m%d")
    return str(value)


# What lxml escapes in text content: `>` too, and a carriage return (which a parser would
# otherwise read back as a line feed).
_ESCAPED = re.compile(r"[&<>\r]")
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"}
# Characters XML 1.0 cannot hold, escaped or not (lxml refuses them with a ValueError).
# Surrogates need no test: no encoding accepts them.
_FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def escape(text: str) -> str:
    """Text content as lxml serialises it."""
    if _ESCAPED.search(text) is None:
        return text
    return _ESCAPED.sub(lambda match: _ENTITIES[match.group()], text)


class _Texts:
    """Values to element texts, dates formatted once per distinct date (a file holds a few thousand)."""

    def __init__(self):
        self.dates: dict[date, str] = {}

    def __call__(self, value: Any) -> str:
        if value.__class__ is str:
            return value
        if value.__class__ is date:
            text = self.dates.get(value)
            if text is None:
                text = self.dates[value] = value.strftime("%Y%m%d")
            return text
        return format_value(value)


FRAGMENT = "__fragment__"


class Fragment(dict):
    """The values of a record's last elements when many records share them (a CGPEM's referent).

    A record gives them under the key FRAGMENT instead of one by one, and the writer renders
    them once per Fragment object (kept in `text`): same elements, same bytes, same checks
    (the whole record is still encoded and checked, and an error names the field). Do not
    change a Fragment once given to the writer.
    """

    __slots__ = ("text",)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.text: str | None = None


class _Plan:
    """A record layout compiled once: its render function, and its leaves for error messages.

    `fragment`: the attr of the first of the record's last (top-level, ungrouped) elements that
    records may give as one Fragment.
    """

    def __init__(self, record: Record, fragment: str | None = None):
        self.items: list[tuple[str, str, str, str | None, bool, tuple]] = []
        # (attr, field name for messages, constant) of every leaf, address children included.
        self.leaves: list[tuple[str, str, str | None]] = []
        for item in record.fields:
            children = tuple(
                (f"{item.attr}_{child.attr}", f"<{child.tag}>", f"</{child.tag}>") for child in item.children
            )
            self.items.append(
                (item.attr, f"<{item.tag}>", f"</{item.tag}>", item.constant, item.required, children)
            )
        for path, item, attr in record.flat_fields():
            self.leaves.append((attr, "/".join(path), item.constant))
        self.render = _compile(record.tag, self.items, fragment)


def _compile(tag: str, items, fragment: str | None = None) -> Callable[[Mapping[str, Any], _Texts], str]:
    """The record's render function, generated once per layout: render(values, texts) -> str.

    It writes the record's element: empty optional elements and groups left out, required
    ones kept. One straight-line block per element, tags and attrs as literals: the loop it
    replaces (a tuple unpacked and five tests per element of every record) cost more than
    writing the text. The output is byte for byte what lxml writes (tests compare them).
    From the `fragment` attr on, the elements come from the record's Fragment, if it has one,
    rendered once per Fragment.
    """
    namespace: dict = {"escape": escape, "_group": _group, "FRAGMENT": FRAGMENT}
    head = items
    if fragment is not None:
        attrs = [attr for attr, *_ in items]
        head, tail = items[: attrs.index(fragment)], items[attrs.index(fragment) :]
        if any(children for *_, children in tail):
            raise ValueError(f"fragment {fragment}: address groups cannot be in a fragment")
        tail_lines = ["def render_tail(values, texts):", "    get = values.get", "    parts = []"]
        tail_lines += _element_lines(tail, namespace)
        tail_lines.append('    return "".join(parts)')
        exec("\n".join(tail_lines), namespace)  # noqa: S102 - code generated from the layout's own tags
    lines = ["def render(values, texts):", "    get = values.get", f"    parts = [{f'<{tag}>'!r}]"]
    lines += _element_lines(head, namespace)
    if fragment is not None:
        lines += [
            "    fragment = get(FRAGMENT)",
            "    if fragment is None:",
            "        parts.append(render_tail(values, texts))",
            "    else:",
            "        text = fragment.text",
            "        if text is None:",
            "            text = fragment.text = render_tail(fragment, texts)",
            "        parts.append(text)",
        ]
    lines += [f"    parts.append({f'</{tag}>'!r})", '    return "".join(parts)']
    exec("\n".join(lines), namespace)  # noqa: S102 - code generated from the layout's own tags
    return namespace["render"]


def _element_lines(items, namespace: dict) -> list[str]:
    """The generated lines appending each element of `items` to `parts`."""
    lines = []
    for attr, open_tag, close_tag, constant, required, children in items:
        if children:
            name = f"_children{len(namespace)}"
            namespace[name] = children
            lines += [
                f"    inner = _group(get, texts, {name})",
                "    if inner:",
                f"        parts += ({open_tag!r}, *inner, {close_tag!r})",
            ]
            continue
        lines.append(f"    value = get({attr!r})")
        if constant is None:
            lines.append("    if value is None:")
            lines.append(f"        {f'parts += ({open_tag!r}, {close_tag!r})' if required else 'pass'}")
            lines.append("    else:")
        else:
            lines.append("    if value is None:")
            lines.append(f"        value = {constant!r}")
            lines.append("    if True:")
        lines += [
            "        if value.__class__ is not str:",
            "            value = texts(value)",
            '        if "&" in value or "<" in value or ">" in value or "\\r" in value:',
            "            value = escape(value)",
            f"        if {'True' if required else 'value'}:",
            f"            parts += ({open_tag!r}, value, {close_tag!r})",
        ]
    return lines


def _group(get, texts: _Texts, children) -> list[str]:
    """An address group's children, empty ones left out."""
    inner = []
    for child_attr, child_open, child_close in children:
        text = _text(get(child_attr), texts)
        if text:
            inner += (child_open, text, child_close)
    return inner


def _text(value: Any, texts: _Texts) -> str:
    """An element's escaped text."""
    if value is None:
        return ""
    if value.__class__ is not str:
        value = texts(value)
    # Four substring tests cost less than a regular expression: most values hold none.
    if "&" in value or "<" in value or ">" in value or "\r" in value:
        return escape(value)
    return value


# The control characters XML cannot hold, as bytes: an ASCII-compatible encoding (Latin-1,
# UTF-8) writes them as these single bytes and never uses these bytes for anything else.
_CONTROL_BYTES = bytes(range(0x20)).translate(None, b"\t\n\r")
_SAME_BYTES = bytes(range(256))  # translate() is twice as fast with a table than with None


class _Encoder:
    """A record's text to bytes, refusing what the encoding or XML cannot hold (naming the field)."""

    def __init__(self, encoding: str):
        self.encoding = encoding
        self.encode = codecs.lookup(encoding).encode
        ascii_text = "".join(map(chr, range(128)))
        self.ascii_compatible = self.encode(ascii_text)[0] == ascii_text.encode("ascii")

    def __call__(self, text: str, plan: _Plan, values: Mapping[str, Any], texts: _Texts, number) -> bytes:
        try:
            data = self.encode(text)[0]
        except UnicodeEncodeError:
            data = None
        if data is not None and "\ufffe" not in text and "\uffff" not in text:
            # Deleting the control bytes from a record costs a copy; searching with a regular
            # expression, ten times that.
            if self.ascii_compatible:
                if len(data.translate(_SAME_BYTES, _CONTROL_BYTES)) == len(data):
                    return data
            elif not _FORBIDDEN.search(text):
                return data
        fragment = values.get(FRAGMENT)
        if fragment is not None:
            values = {**values, **fragment}
        for attr, name, constant in plan.leaves:
            value = values.get(attr)
            text = _text(constant if value is None else value, texts)
            forbidden = _FORBIDDEN.search(text)
            if forbidden:
                raise ForbiddenCharacter(record=number, field=name, character=forbidden.group())
            try:
                self.encode(text)
            except UnicodeEncodeError as error:
                raise UnencodableValue(
                    record=number, field=name, character=text[error.start], encoding=self.encoding
                ) from None
        raise AssertionError("a record failed to encode but none of its values does")  # pragma: no cover


def write_file(
    layout: FileLayout,
    header: Mapping[str, Any],
    records: Iterable[Mapping[str, Any]],
    destination: str | os.PathLike | IO[bytes],
    *,
    encoding: str = "ISO-8859-1",
    fragment: str | None = None,
) -> int:
    """Write `records` (dicts keyed by the layout's attrs) and return how many were written.

    `fragment`: the attr of the first of the detail's last elements that a record may give as
    one `Fragment` under the key FRAGMENT (values shared by many records, rendered once).

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
            with open_private(temporary) as handle:
                count = _write(layout, header_values, records, handle, encoding, fragment)
            os.replace(temporary, final)
        finally:
            temporary.unlink(missing_ok=True)
        return count
    return _write(layout, header_values, records, destination, encoding, fragment)


# Records are encoded one by one (an error names its record) and written in batches.
_BATCH = 1000


def _write(
    layout: FileLayout,
    header: dict[str, Any],
    records: Iterable[Mapping[str, Any]],
    handle,
    encoding: str,
    fragment: str | None = None,
) -> int:
    encode = _Encoder(encoding)
    texts = _Texts()
    header_plan, detail, footer_plan = (
        _Plan(layout.header),
        _Plan(layout.detail, fragment),
        _Plan(layout.footer),
    )
    write = handle.write
    # The declaration, root and line breaks as lxml's xmlfile wrote them.
    write(f"<?xml version='1.0' encoding='{encoding}'?>\n<{layout.name}>\n".encode("ascii"))
    write(encode(header_plan.render(header, texts), header_plan, header, texts, None) + b"\n")
    count = 0
    batch: list[bytes] = []
    for values in records:
        count += 1
        batch.append(encode(detail.render(values, texts), detail, values, texts, count))
        if len(batch) == _BATCH:
            batch.append(b"")
            write(b"\n".join(batch))
            batch.clear()
    if batch:
        batch.append(b"")
        write(b"\n".join(batch))
    footer = {
        "departement": header["departement"],
        "reference_date": header["reference_date"],
        "record_count": count,
    }
    write(encode(footer_plan.render(footer, texts), footer_plan, footer, texts, None) + b"\n")
    write(f"</{layout.name}>".encode("ascii"))
    return count


SCHEMAS_DIR = Path(__file__).resolve().parent / "schemas"


def schema_for(layout: FileLayout) -> etree.XMLSchema:
    """The XSD of a layout's file (contract/schemas/pecgm.xsd, cgpem.xsd), parsed once."""
    return _schema(layout.name)


@functools.cache
def _schema(name: str) -> etree.XMLSchema:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    return etree.XMLSchema(etree.parse(str(SCHEMAS_DIR / f"{name.lower()}.xsd"), parser))


XS = "http://www.w3.org/2001/XMLSchema"


def part_schemas(layout: FileLayout) -> dict[str, etree.XMLSchema]:
    """One schema per child of the file's root (header, record, footer), cut out of its XSD.

    Each validates one element on its own, so that a file can be checked record
    by record with flat memory while its completeness (root closed, footer's
    count) is checked by the caller itself: lxml's iterparse with a whole-file
    schema is no proof of completeness (from lxml 6.2 it ends a truncated
    document with its root's end event and no error).
    """
    return _part_schemas(layout.name)


@functools.cache
def _part_schemas(name: str) -> dict[str, etree.XMLSchema]:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    document = etree.parse(str(SCHEMAS_DIR / f"{name.lower()}.xsd"), parser).getroot()
    (root,) = document.xpath("xs:element[@name=$name]", namespaces={"xs": XS}, name=name)
    parts = {}
    for declaration in root.iterfind(f"{{{XS}}}complexType/{{{XS}}}sequence/{{{XS}}}element"):
        schema = etree.Element(document.tag, document.attrib, nsmap=document.nsmap)
        element = copy.deepcopy(declaration)
        # A global declaration takes no occurrence bounds: the caller counts occurrences.
        element.attrib.pop("minOccurs", None)
        element.attrib.pop("maxOccurs", None)
        schema.append(element)
        parts[declaration.get("name")] = etree.XMLSchema(schema)
    return parts

"""Writing tables (exchanges.tracking.Sheet) as an OpenDocument spreadsheet or as CSV.

.ods: one sheet per table, written with odfpy (the OpenDocument library pandas uses for
.ods), numbers as numbers. CSV: as the other exports of the project (UTF-8 with a BOM,
`;`), one section per table, each under its title and its header, a blank line between.
A text cell that a spreadsheet would take for a formula is prefixed with an apostrophe.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from odf.opendocument import OpenDocumentSpreadsheet
from odf.style import Style, TableColumnProperties, TextProperties
from odf.table import Table, TableCell, TableColumn, TableRow
from odf.text import P

# A cell starting with one of these is a formula to a spreadsheet (OWASP, "CSV injection"):
# a value France Travail or a user typed could run one on the reader's machine.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(text: str) -> str:
    """`text` as a spreadsheet shows it, never as a formula (a leading quote, hidden by Excel)."""
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


FORMATS = {"ods": "application/vnd.oasis.opendocument.spreadsheet", "csv": "text/csv; charset=utf-8"}


def _text(value) -> str:
    return "" if value is None else spreadsheet_safe(str(value))


def ods_bytes(sheets: Iterable) -> bytes:
    document = OpenDocumentSpreadsheet()
    bold = Style(name="entete", family="table-cell")
    bold.addElement(TextProperties(fontweight="bold"))
    wide = Style(name="colonne", family="table-column")
    wide.addElement(TableColumnProperties(columnwidth="4cm"))
    document.automaticstyles.addElement(bold)
    document.automaticstyles.addElement(wide)
    for sheet in sheets:
        # A sheet's name may not hold []*?:/\ and is at most 31 characters for some readers.
        name = "".join(" " if char in "[]*?:/\\" else char for char in sheet.title)[:31]
        table = Table(name=name)
        table.addElement(TableColumn(numbercolumnsrepeated=max(len(sheet.header), 1), stylename=wide))
        for number, row in enumerate([sheet.header, *sheet.rows]):
            line = TableRow()
            for value in row:
                if isinstance(value, bool) or not isinstance(value, int | float):
                    cell = TableCell(valuetype="string", stylename=bold if number == 0 else None)
                    cell.addElement(P(text=_text(value)))
                else:
                    cell = TableCell(valuetype="float", value=value)
                    cell.addElement(P(text=str(value)))
                line.addElement(cell)
            table.addElement(line)
        document.spreadsheet.addElement(table)
    buffer = io.BytesIO()
    document.write(buffer)
    return buffer.getvalue()


def csv_text(sheets: Iterable) -> str:
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    for number, sheet in enumerate(sheets):
        if number:
            writer.writerow([])
        writer.writerow([_text(sheet.title)])
        writer.writerow([_text(value) for value in sheet.header])
        for row in sheet.rows:
            writer.writerow([value if isinstance(value, int | float) else _text(value) for value in row])
    return buffer.getvalue()


def render(sheets: list, fmt: str) -> bytes:
    """The tables in `fmt` ("ods" or "csv"), as the bytes of the file."""
    if fmt == "ods":
        return ods_bytes(sheets)
    if fmt == "csv":
        return csv_text(sheets).encode("utf-8")
    raise ValueError(fmt)

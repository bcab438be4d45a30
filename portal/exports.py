"""The one place Sillon writes spreadsheets (CSV and XLSX) that people open in Excel.

Formula injection (OWASP "CSV Injection"): a text cell that starts with ``=``, ``+``, ``-``,
``@``, a tab, a carriage return or a line feed (or their full-width forms, which Excel also
reads as operators) could be evaluated by the spreadsheet: an apprentice named
``=HYPERLINK(...)`` would become a link. Such text is neutralised:

- CSV: prefixed with a single quote ``'`` (OWASP's advice), so Excel and LibreOffice show it
  as text;
- XLSX: written as a text cell carrying Excel's own "quote prefix" flag — exactly what Excel
  stores when a person types ``'=…`` — so the value stays what was typed, is shown as text
  and stays text when the cell is edited. A text cell (never a ``<f>`` element) cannot run.

Values that are numbers in Python (int, float, Decimal) are written as numbers: they cannot
carry a formula, and an amount of -12,50 € must stay a number a person can add up. Text that
merely looks like a negative number ("-5" typed in a name field) is text, and is neutralised.

CSV is written as French Excel opens it: ``;`` separator, UTF-8 with BOM (accents), CRLF line
ends, decimal comma, dates JJ/MM/AAAA. Pure functions: no Flask, no database.
"""
from __future__ import annotations

import codecs
import csv
import io
import math
import re
import unicodedata
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any, Iterable, Iterator, Sequence
from urllib.parse import quote
from zoneinfo import ZoneInfo

CSV_MIMETYPE = "text/csv; charset=utf-8"
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")
XLSX_MAX_CHARS = 32767  # Excel's limit for one cell
PARIS = ZoneInfo("Europe/Paris")
# Control characters XML 1.0 cannot hold (openpyxl refuses them); tab, CR and LF stay.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def neutralise(text: str) -> str:
    """Text a spreadsheet would read as a formula, made inert with a leading quote."""
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


def is_formula_like(text: str) -> bool:
    return text.startswith(FORMULA_TRIGGERS)


def paris_time(moment: datetime) -> datetime:
    """Sillon stores naive UTC timestamps: shown in Paris time, without a zone."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(PARIS).replace(tzinfo=None)


def day_text(value: date) -> str:
    """01/03/2027."""
    return value.strftime("%d/%m/%Y")


def moment_text(value: datetime) -> str:
    """A stored (UTC) timestamp as read in France: 01/03/2027 14:05, no seconds."""
    return paris_time(value).strftime("%d/%m/%Y %H:%M")


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Oui" if value else "Non"
    return _CONTROL.sub("", str(value))


# --- CSV -----------------------------------------------------------------------------------------

def csv_value(value: Any) -> str:
    """One cell as French Excel reads it: numbers with a decimal comma, dates JJ/MM/AAAA, text
    neutralised."""
    if isinstance(value, bool) or value is None:
        return _text(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (float, Decimal)):
        return format(value, "f" if isinstance(value, Decimal) else "").replace(".", ",")
    if isinstance(value, datetime):
        return moment_text(value)
    if isinstance(value, date):
        return day_text(value)
    return neutralise(_text(value))


class _Line:
    """File-like object whose write() hands back what csv.writer wrote (streaming)."""

    def write(self, value: str) -> str:
        return value


def csv_lines(header: Sequence[Any], rows: Iterable[Sequence[Any]]) -> Iterator[bytes]:
    """The CSV file line by line (for streaming): UTF-8 BOM, ';', CRLF."""
    writer = csv.writer(_Line(), delimiter=";", lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    yield codecs.BOM_UTF8 + writer.writerow([csv_value(h) for h in header]).encode("utf-8")
    for row in rows:
        yield writer.writerow([csv_value(v) for v in row]).encode("utf-8")


def csv_bytes(header: Sequence[Any], rows: Iterable[Sequence[Any]]) -> bytes:
    return b"".join(csv_lines(header, rows))


# --- XLSX ----------------------------------------------------------------------------------------

def _typed(value: Any) -> bool:
    """Written as a typed cell (number or date) rather than text."""
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal, date)):
        return False
    if isinstance(value, (float, Decimal)):
        return value.is_finite() if isinstance(value, Decimal) else math.isfinite(value)
    if isinstance(value, date):
        return value.year >= 1900  # Excel has no date before 1900
    return True


def _xlsx_cell(sheet, value: Any):
    from openpyxl.cell import WriteOnlyCell
    if not _typed(value):
        text = (csv_value(value) if isinstance(value, date) else _text(value))[:XLSX_MAX_CHARS]
        cell = WriteOnlyCell(sheet, value=text)
        cell.data_type = "s"  # never a formula, whatever openpyxl guesses from a leading '='
        if is_formula_like(text):
            cell.quotePrefix = True
        return cell
    if isinstance(value, datetime):
        cell = WriteOnlyCell(sheet, value=paris_time(value))
        cell.number_format = "DD/MM/YYYY HH:MM"
        return cell
    cell = WriteOnlyCell(sheet, value=value)
    if isinstance(value, date):
        cell.number_format = "DD/MM/YYYY"
    return cell


def xlsx_bytes(header: Sequence[Any], rows: Iterable[Sequence[Any]], *,
               title: str = "Export") -> bytes:
    """A one-sheet workbook (write-only: rows are not all kept in memory), bold header."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(_sheet_title(title))
    bold = Font(bold=True)
    titles = []
    for value in header:
        cell = _xlsx_cell(sheet, value)
        cell.font = bold
        titles.append(cell)
    sheet.freeze_panes = "A2"
    sheet.append(titles)
    for row in rows:
        sheet.append([_xlsx_cell(sheet, v) for v in row])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _sheet_title(title: str) -> str:
    # Excel: at most 31 characters, none of []:*?/\
    return re.sub(r"[\[\]:*?/\\]", " ", _text(title)).strip()[:31] or "Export"


# --- download name -------------------------------------------------------------------------------

def attachment(name: str, extension: str, day: date | None = None) -> dict[str, str]:
    """Content-Disposition of a download named after the list and the day, in French:
    « Établissements-01-12-2026.xlsx » (with an ASCII fallback for old clients)."""
    day = day or datetime.now(PARIS).date()
    base = re.sub(r"[^\w' -]+", "", _text(name), flags=re.UNICODE).strip() or "export"
    full = f"{base}-{day.strftime('%d-%m-%Y')}.{extension}"
    ascii_name = unicodedata.normalize("NFKD", full).encode("ascii", "ignore").decode()
    ascii_name = re.sub(r"[^A-Za-z0-9._-]+", "-", ascii_name).strip("-") or f"export.{extension}"
    return {"Content-Disposition":
            f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(full, safe='')}"}

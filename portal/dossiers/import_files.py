"""Reading an import file (CSV or XLSX) into rows of cells, within limits, before any check.

A hostile file must be refused quickly and cheaply, with a French message for the person:

- every file: at most MAX_BYTES (checked by the view while reading the upload, and here);
- XLSX, before openpyxl opens it, from the zip's central directory only (no byte inflated):
  number of members, declared uncompressed size of each member and of the whole archive, and
  the compression ratio of big members (Apache POI's ZipSecureFile uses the same 1:100). The
  declared sizes are binding: Python's zipfile stops inflating a member at its declared size
  and then fails on the CRC, so a member that lies about its size cannot inflate further.
  Then each big XML member is streamed once to count its elements (ElementTree, under
  openpyxl, holds a whole row — and any element it does not recognise — in memory). Only then
  is the workbook opened, read-only with cached values (``read_only=True, data_only=True``),
  at most MAX_COLUMNS + 1 columns and MAX_LINES lines read;
- CSV: line count, line length, cell size (csv's own 128 Kio field limit, left as it is: it
  is process-wide), columns, and an encoding Excel writes (UTF-8, UTF-16 with BOM, cp1252).

A file that is neither (another extension such as .txt, a damaged workbook, characters in an
unknown encoding, a text without any column) is named as such: "Le fichier « … » n'est pas un
classeur Excel (.xlsx) ni un fichier CSV lisible", with the reason, not as a file whose
columns are missing. The template's sample row (SAMPLE_MARKER in a cell of its own, or the
example's e-mail) is never imported: parse() skips it and tells its line.
"""
from __future__ import annotations

import codecs
import csv
import io
import zipfile
from contextlib import closing
from typing import Any, Iterator

from portal.rules.imports import (EXAMPLE, MAX_ROWS, ImportFileError, is_blank, map_header,
                                  normalise_header)

MAX_BYTES = 5 * 1024 * 1024
MAX_COLUMNS = 60          # columns read; a header naming more is refused
MAX_LINES = 100_000       # lines scanned, blank ones included (formatted empty rows)
MAX_LINE_CHARS = 65_536   # one physical line of a CSV file
# XLSX archive. A 20 000-row, 8-column workbook (MAX_ROWS) is ~9 MB of XML and ~500 000
# elements; 1 500 000 elements is 20 000 rows of 36 columns as Excel writes them (shared
# strings: <c><v>).
XLSX_MAX_MEMBERS = 500
XLSX_MAX_TOTAL = 100 * 1024 * 1024      # declared uncompressed size of all members
XLSX_MAX_MEMBER = 40 * 1024 * 1024      # declared uncompressed size of one member
XLSX_MAX_RATIO = 100                    # uncompressed / compressed, for members above:
XLSX_RATIO_FROM = 1024 * 1024
XLSX_MAX_ELEMENTS = 1_500_000            # XML elements of one member (counted if > 256 Kio)
XLSX_COUNT_FROM = 256 * 1024
_CHUNK = 1024 * 1024

EXTENSIONS = (".csv", ".xlsx", ".xlsm")  # a file named otherwise (.txt, .pdf…) is not read
SAVE_AS = ("Enregistrez votre tableau au format « CSV UTF-8 (délimité par des points-virgules) » "
           "ou « Classeur Excel (.xlsx) », ou partez du modèle.")
# The reasons a file is unreadable (see unreadable()).
NOT_A_TABLE = "son contenu n'est pas un tableau (image, document ou fichier binaire)"
UNREADABLE_XLSX = "ce classeur est endommagé et ne peut pas être lu"
UNKNOWN_ENCODING = ("ses caractères ne peuvent pas être lus (encodage inconnu) : choisissez "
                    "« CSV UTF-8 » en l'enregistrant")
NOT_XLSX = "il porte l'extension .xlsx mais son contenu n'est pas un classeur Excel"
NO_COLUMNS = "sa première ligne ne contient ni colonnes séparées ni en-têtes du modèle"
# The template's sample row: this text in a cell of its own marks it (imports.template_*).
SAMPLE_MARKER = "EXEMPLE – ligne ignorée à l'import"
SAMPLE_COLUMN = "Remarque"
ONLY_SAMPLE = ("Le fichier ne contient que la ligne d'exemple du modèle (ligne {line}), qui "
               "n'est jamais importée : ajoutez une ligne par alternant·e sous les en-têtes.")


class Unreadable(ImportFileError):
    """The file is not a table Sillon reads; the message (the reason) is completed with the
    file's name by parse()."""


def unreadable(filename: str, reason: str) -> str:
    name = "".join(c for c in (filename or "") if c.isprintable())
    name = name.replace("\\", "/").rsplit("/", 1)[-1].strip()[:80] or "envoyé"
    return (f"Le fichier « {name} » n'est pas un classeur Excel (.xlsx) ni un fichier CSV "
            f"lisible : {reason}. {SAVE_AS}")
TOO_BIG_XLSX = ("Ce classeur Excel est trop volumineux une fois décompressé ({detail}) : "
                "il ne peut pas s'agir d'une simple liste d'alternant·es. Gardez seulement la "
                "feuille des alternant·es (une ligne par personne, sans mise en forme sur des "
                "lignes vides), ou enregistrez-la au format CSV.")
TOO_MANY_COLUMNS = (f"La ligne d'en-têtes compte plus de {MAX_COLUMNS} colonnes : ne gardez que "
                    "les colonnes du modèle (Nom, Prénom, E-mail…).")
TOO_MANY_ROWS = (f"Le fichier compte plus de {MAX_ROWS:,} alternant·es : ".replace(",", " ")
                 + "découpez-le en plusieurs fichiers.")
TOO_MANY_LINES = (f"Le fichier compte plus de {MAX_LINES} lignes : ne gardez que les lignes "
                  "des alternant·es.")


# --- XLSX ------------------------------------------------------------------------------------

def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):.0f} Mo"


def check_xlsx_archive(content: bytes) -> None:
    """Refuse, from the zip's directory and a counting pass, a workbook too big to open."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
        members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise Unreadable(UNREADABLE_XLSX) from None
    if len(members) > XLSX_MAX_MEMBERS:
        raise ImportFileError(TOO_BIG_XLSX.format(
            detail=f"plus de {XLSX_MAX_MEMBERS} éléments"))
    total = sum(m.file_size for m in members)
    if total > XLSX_MAX_TOTAL:
        raise ImportFileError(TOO_BIG_XLSX.format(
            detail=f"{_mb(total)} pour {_mb(XLSX_MAX_TOTAL)} au plus"))
    for member in members:
        if member.file_size > XLSX_MAX_MEMBER:
            raise ImportFileError(TOO_BIG_XLSX.format(
                detail=f"une partie de {_mb(member.file_size)} pour "
                       f"{_mb(XLSX_MAX_MEMBER)} au plus"))
        if (member.file_size > XLSX_RATIO_FROM
                and member.file_size > XLSX_MAX_RATIO * max(member.compress_size, 1)):
            raise ImportFileError(TOO_BIG_XLSX.format(
                detail=f"une partie compressée plus de {XLSX_MAX_RATIO} fois"))
    for member in members:
        if member.file_size > XLSX_COUNT_FROM and _elements(archive, member) > XLSX_MAX_ELEMENTS:
            raise ImportFileError(TOO_BIG_XLSX.format(
                detail=f"plus de {XLSX_MAX_ELEMENTS} cellules ou éléments dans une partie"))


def _elements(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> int:
    """Upper bound of the XML elements of a member: every element has one start tag '<name',
    which is neither an end tag, a comment / CDATA / doctype ('<!') nor a processing
    instruction ('<?'). Streamed, one byte carried between chunks so no '</' is split."""
    count, carry = 0, b""
    try:
        with archive.open(member) as stream:
            while True:
                chunk = stream.read(_CHUNK)
                data = carry + chunk
                body, carry = (data[:-1], data[-1:]) if chunk else (data, b"")
                count += (body.count(b"<") - body.count(b"</") - body.count(b"<!")
                          - body.count(b"<?"))
                if count > XLSX_MAX_ELEMENTS or not chunk:
                    return count
    except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError, EOFError,
            ValueError):
        # Bad CRC, a member larger than declared, encrypted, an unknown compression.
        raise Unreadable(UNREADABLE_XLSX) from None


def _xlsx_rows(content: bytes) -> Iterator[list[Any]]:
    check_xlsx_archive(content)
    from openpyxl import load_workbook
    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, TypeError) as exc:
        raise Unreadable(UNREADABLE_XLSX) from exc
    except Exception as exc:  # openpyxl raises assorted errors on damaged or foreign zips
        raise Unreadable(NOT_A_TABLE) from exc
    try:
        sheet = workbook.worksheets[0] if workbook.worksheets else None
        if sheet is None:
            return
        # One column more than read: a header that goes on past it is refused, not cut.
        try:
            for row in sheet.iter_rows(values_only=True, max_col=MAX_COLUMNS + 1):
                yield list(row)
        except ImportFileError:
            raise
        except Exception as exc:  # a damaged sheet (bad XML, bad CRC) found while reading
            raise Unreadable(UNREADABLE_XLSX) from exc
    finally:
        workbook.close()


# --- CSV -------------------------------------------------------------------------------------

def _undecodable(content: bytes, encoding: str) -> ImportFileError:
    """A binary file is not a table; a text in an unknown encoding is told as such."""
    text = content.decode(encoding, errors="replace")
    return Unreadable(NOT_A_TABLE if _looks_binary(text) else UNKNOWN_ENCODING)


def _decode(content: bytes) -> str:
    """UTF-8 (with or without BOM), UTF-16 with BOM (Excel's "texte Unicode"), else cp1252
    (Excel's "CSV (séparateur : point-virgule)" on Windows)."""
    if content.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return content.decode("utf-16")
        except UnicodeDecodeError:
            raise _undecodable(content, "utf-16") from None
    if content.startswith(codecs.BOM_UTF8):
        content = content[len(codecs.BOM_UTF8):]
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return content.decode("cp1252")
    except UnicodeDecodeError:
        raise _undecodable(content, "cp1252") from None


def _looks_binary(text: str) -> bool:
    sample = text[:4096]
    controls = sum(1 for c in sample if ord(c) < 32 and c not in "\t\r\n\f")
    return "\x00" in sample or controls > max(2, len(sample) // 100)


def _check_csv_text(text: str) -> None:
    if text.count("\n") >= MAX_LINES:
        raise ImportFileError(TOO_MANY_LINES)
    if max(map(len, text.split("\n"))) > MAX_LINE_CHARS:
        raise ImportFileError(f"Une ligne du fichier dépasse {MAX_LINE_CHARS} caractères : "
                              "ce n'est pas une liste d'alternant·es. Enregistrez-la à "
                              "nouveau depuis votre tableur.")


def _csv_rows(content: bytes) -> Iterator[list[Any]]:
    text = _decode(content)
    if _looks_binary(text):
        raise Unreadable(NOT_A_TABLE)
    _check_csv_text(text)
    first_line = text.lstrip("\r\n").split("\n", 1)[0]
    delimiter = max((";", ",", "\t"), key=first_line.count)
    if first_line.count(delimiter) == 0:
        delimiter = ";"
    try:
        yield from csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    except csv.Error as exc:
        if "field limit" in str(exc):
            raise ImportFileError(f"Une cellule du fichier dépasse {csv.field_size_limit()} "
                                  "caractères (guillemets non refermés ?) : enregistrez-le "
                                  "à nouveau depuis votre tableur.") from None
        raise ImportFileError("Le fichier CSV est mal formé (guillemets non refermés ?) : "
                              "enregistrez-le à nouveau depuis votre tableur.") from None


# --- both --------------------------------------------------------------------------------------

def read_table(content: bytes, filename: str = "") -> Iterator[list[Any]]:
    """The file's rows as lists of cells (text for CSV, typed values for XLSX)."""
    if not content or not content.strip():
        raise ImportFileError("Le fichier est vide.")
    if len(content) > MAX_BYTES:
        raise ImportFileError(f"Le fichier dépasse {MAX_BYTES // (1024 * 1024)} Mo : "
                              "découpez-le en plusieurs fichiers.")
    if content.startswith(b"\xd0\xcf\x11\xe0"):
        raise ImportFileError("Les classeurs Excel 97-2003 (.xls) ne sont pas acceptés : "
                              "enregistrez le fichier au format .xlsx ou CSV.")
    extension = "." + filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if extension and extension not in EXTENSIONS:
        raise Unreadable(f"seuls les fichiers .csv et .xlsx sont lus (extension {extension[:10]})")
    if content.startswith(b"PK\x03\x04"):
        return _xlsx_rows(content)
    if filename.lower().endswith((".xlsx", ".xlsm")):
        raise Unreadable(NOT_XLSX)
    return _csv_rows(content)


def _filled(cell: Any) -> bool:
    return cell is not None and str(cell).strip() != ""


class ParsedRows(list):
    """parse()'s rows, and the lines of the template's sample row that were skipped."""

    sample_lines: list[int]

    def __init__(self, rows=(), sample_lines=()):
        super().__init__(rows)
        self.sample_lines = list(sample_lines)


_MARKER = normalise_header(SAMPLE_MARKER)
_EXAMPLE_EMAIL = EXAMPLE["email"].lower()


def is_sample(cells: list[Any], raw: dict[str, Any]) -> bool:
    """The template's sample row: the marker in one of its cells, or the example's e-mail
    (a template downloaded before the marker existed)."""
    # An ASCII cell shorter than the folded marker cannot fold to it (folding ASCII only
    # drops characters).
    if any(isinstance(c, str) and (len(c) >= len(_MARKER) or not c.isascii())
           and normalise_header(c) == _MARKER for c in cells):
        return True
    return str(raw.get("email") or "").strip().lower() == _EXAMPLE_EMAIL


def parse(content: bytes, filename: str = "") -> ParsedRows:
    """(line, {column key: cell value}) for every non-blank data row but the template's sample
    row. The header is the first non-blank row; lines are numbered as the spreadsheet shows
    them (header included)."""
    try:
        with closing(read_table(content, filename)) as rows:
            return _rows_of(rows)
    except Unreadable as exc:
        raise ImportFileError(unreadable(filename, str(exc))) from None


def _rows_of(rows: Iterator[list[Any]]) -> ParsedRows:
    mapping = None
    data = ParsedRows()
    for line, cells in enumerate(rows, start=1):
        if line > MAX_LINES:
            raise ImportFileError(TOO_MANY_LINES)
        if mapping is None:
            if not any(_filled(c) for c in cells):
                continue
            if any(_filled(c) for c in cells[MAX_COLUMNS:]):
                raise ImportFileError(TOO_MANY_COLUMNS)
            try:
                mapping = map_header(cells[:MAX_COLUMNS])
            except ImportFileError:
                # One single cell, none of the model's names: a text, not a table.
                if sum(1 for c in cells if _filled(c)) <= 1:
                    raise Unreadable(NO_COLUMNS) from None
                raise
            continue
        raw = {key: (cells[index] if index < len(cells) else None)
               for index, key in mapping.items()}
        if is_blank(raw):
            continue
        if is_sample(cells, raw):
            data.sample_lines.append(line)
            continue
        data.append((line, raw))
        if len(data) > MAX_ROWS:
            raise ImportFileError(TOO_MANY_ROWS)
    if mapping is None:
        raise ImportFileError("Le fichier est vide.")
    if not data and data.sample_lines:
        raise ImportFileError(ONLY_SAMPLE.format(line=data.sample_lines[0]))
    if not data:
        raise ImportFileError("Le fichier ne contient que la ligne d'en-têtes : ajoutez une "
                              "ligne par alternant·e sous les en-têtes.")
    return data

"""Import of apprentices by a training (CSV or XLSX): read the file, preview every row with its
errors and warnings, then create the dossiers of the rows that may be created — through the one
write path, portal.dossiers.service.create_dossiers, which invites their people — in one
transaction.

The uploaded bytes are kept in an ImportBatch between the preview and the confirmation: the
confirmation re-reads and re-checks them (the browser only sends the batch id and the lines
the manager ticked "Créer quand même"). Row checks are pure functions in portal.rules.imports.
Nothing here commits: the caller does, once.
"""
from __future__ import annotations

import codecs
import csv
import hashlib
import io
import zipfile
from datetime import date
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

from sqlalchemy import func, or_, select, update

from portal import policy
from portal.dossiers.service import create_dossiers
from portal.dossiers.workflow import FINAL_STATES, state_label
from portal.extensions import db
from portal.models import Dossier, Formation, ImportBatch, User
from portal.models.people import utcnow
from portal.rules.imports import (COLUMNS, CREATE, EXAMPLE, KEYS, MAX_ROWS, REFUSED,
                                  ImportFileError, KnownDossier, RowCheck, cell_text, check_rows,
                                  is_blank, map_header)

MAX_BYTES = 5 * 1024 * 1024
MAX_COLUMNS = 50          # columns read in a workbook (unknown columns are ignored anyway)
MAX_LINES = 100_000       # lines scanned, blank ones included (formatted empty rows)
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_NOT_A_TABLE = ("Ce fichier n'est ni un fichier CSV ni un classeur Excel (.xlsx) : "
                "enregistrez votre tableau au format « CSV UTF-8 (délimité par des "
                "points-virgules) » ou « Classeur Excel (.xlsx) », ou partez du modèle.")


# --- reading the file ------------------------------------------------------------------------

def _decode(content: bytes) -> str:
    """UTF-8 (with or without BOM), UTF-16 with BOM (Excel's "texte Unicode"), else cp1252
    (Excel's "CSV (séparateur : point-virgule)" on Windows)."""
    if content.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return content.decode("utf-16")
        except UnicodeDecodeError:
            raise ImportFileError(_NOT_A_TABLE) from None
    if content.startswith(codecs.BOM_UTF8):
        content = content[len(codecs.BOM_UTF8):]
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return content.decode("cp1252")
    except UnicodeDecodeError:
        raise ImportFileError(_NOT_A_TABLE) from None


def _looks_binary(text: str) -> bool:
    sample = text[:4096]
    controls = sum(1 for c in sample if ord(c) < 32 and c not in "\t\r\n\f")
    return "\x00" in sample or controls > max(2, len(sample) // 100)


def _csv_rows(content: bytes) -> Iterator[list[Any]]:
    text = _decode(content)
    if _looks_binary(text):
        raise ImportFileError(_NOT_A_TABLE)
    first_line = text.lstrip("\r\n").split("\n", 1)[0]
    delimiter = max((";", ",", "\t"), key=first_line.count)
    if first_line.count(delimiter) == 0:
        delimiter = ";"
    try:
        yield from csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    except csv.Error:
        raise ImportFileError("Le fichier CSV est mal formé (guillemets non refermés ?) : "
                              "enregistrez-le à nouveau depuis votre tableur.") from None


def _xlsx_rows(content: bytes) -> Iterator[list[Any]]:
    from openpyxl import load_workbook
    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, TypeError) as exc:
        raise ImportFileError("Ce classeur Excel (.xlsx) ne peut pas être lu : enregistrez-le "
                              "à nouveau depuis votre tableur, ou au format CSV.") from exc
    except Exception as exc:  # openpyxl raises assorted errors on damaged or foreign zips
        raise ImportFileError(_NOT_A_TABLE) from exc
    try:
        sheet = workbook.worksheets[0] if workbook.worksheets else None
        if sheet is None:
            return
        # At most MAX_COLUMNS columns: a sheet claiming A1:XFD… is not read cell by cell.
        for row in sheet.iter_rows(values_only=True, max_col=MAX_COLUMNS):
            yield list(row)
    finally:
        workbook.close()


def read_table(content: bytes, filename: str = "") -> Iterator[list[Any]]:
    """The file's rows as lists of cells (text for CSV, typed values for XLSX)."""
    if not content or not content.strip():
        raise ImportFileError("Le fichier est vide.")
    if len(content) > MAX_BYTES:
        raise ImportFileError("Le fichier dépasse 5 Mo : découpez-le en plusieurs fichiers.")
    if content.startswith(b"\xd0\xcf\x11\xe0"):
        raise ImportFileError("Les classeurs Excel 97-2003 (.xls) ne sont pas acceptés : "
                              "enregistrez le fichier au format .xlsx ou CSV.")
    if content.startswith(b"PK\x03\x04"):
        return _xlsx_rows(content)
    if filename.lower().endswith((".xlsx", ".xlsm")):
        raise ImportFileError("Ce fichier porte l'extension .xlsx mais n'est pas un classeur "
                              "Excel : enregistrez-le à nouveau depuis votre tableur.")
    return _csv_rows(content)


def parse(content: bytes, filename: str = "") -> list[tuple[int, dict[str, Any]]]:
    """(line, {column key: cell value}) for every non-blank data row. The header is the first
    non-blank row; lines are numbered as the spreadsheet shows them (header included)."""
    rows = read_table(content, filename)
    mapping = None
    data: list[tuple[int, dict[str, Any]]] = []
    for line, cells in enumerate(rows, start=1):
        if line > MAX_LINES:
            raise ImportFileError(f"Le fichier compte plus de {MAX_LINES} lignes : ne gardez "
                                  "que les lignes des alternant·es.")
        if mapping is None:
            if all(c is None or str(c).strip() == "" for c in cells):
                continue
            mapping = map_header(cells)
            continue
        raw = {key: (cells[index] if index < len(cells) else None)
               for index, key in mapping.items()}
        if is_blank(raw):
            continue
        data.append((line, raw))
        if len(data) > MAX_ROWS:
            raise ImportFileError(f"Le fichier compte plus de {MAX_ROWS} alternant·es : "
                                  "découpez-le en plusieurs fichiers.")
    if mapping is None:
        raise ImportFileError("Le fichier est vide.")
    if not data:
        raise ImportFileError("Le fichier ne contient que la ligne d'en-têtes : ajoutez une "
                              "ligne par alternant·e sous les en-têtes.")
    return data


# --- preview and confirmation ----------------------------------------------------------------

_CHUNK = 500  # e-mails per IN (...) list: well under SQLite's bound on parameters


def known_dossiers(formation, emails: Iterable[str]) -> tuple[dict[str, list[KnownDossier]],
                                                               dict[str, list[KnownDossier]]]:
    """The dossiers the given apprentice e-mails already have: (in this training, whatever their
    state; open in another training, of any manager). An apprentice is found by the dossier's
    e-mail or by their account's, both without case. One query per 500 e-mails."""
    wanted = sorted({e.strip().lower() for e in emails if e and e.strip()})
    in_training: dict[str, list[KnownDossier]] = {}
    elsewhere: dict[str, list[KnownDossier]] = {}
    dossier_email = func.lower(Dossier.apprenti_email)
    account_email = func.lower(User.email)
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start:start + _CHUNK]
        rows = db.session.execute(
            select(Dossier.id, Dossier.formation_id, Dossier.state, dossier_email,
                   account_email, Formation.intitule, Formation.annee_campagne)
            .join(Formation, Formation.id == Dossier.formation_id)
            .outerjoin(User, User.id == Dossier.apprentice_user_id)
            .where(or_(dossier_email.in_(chunk), account_email.in_(chunk)),
                   or_(Dossier.formation_id == formation.id,
                       Dossier.state.not_in(FINAL_STATES)))
            .order_by(Dossier.id))
        chunk_set = set(chunk)
        for number, formation_id, state, email, account, intitule, year in rows:
            known = KnownDossier(number=number, training=Formation.label_for(intitule, year),
                                 state=state_label(state))
            target = in_training if formation_id == formation.id else elsewhere
            for address in {email, account} & chunk_set:
                target.setdefault(address, []).append(known)
    return in_training, elsewhere


def preview(formation, content: bytes, filename: str = "", *,
            today: date | None = None) -> list[RowCheck]:
    """Every data row of the file with its findings; raises ImportFileError (French) when the
    file as a whole cannot be read."""
    rows = parse(content, filename)
    emails = (cell_text(raw.get("email")) for _, raw in rows)
    in_training, elsewhere = known_dossiers(formation, emails)
    return check_rows(rows, in_training=in_training, elsewhere=elsewhere,
                      today=today or date.today())


def create_batch(formation, user, content: bytes, filename: str) -> tuple[ImportBatch,
                                                                          list[RowCheck]]:
    """Check the file and keep it for the confirmation (no commit)."""
    results = preview(formation, content, filename)
    batch = ImportBatch(formation_id=formation.id, user_id=getattr(user, "id", None),
                        filename=(filename or "import")[-255:], content=content,
                        sha256=hashlib.sha256(content).hexdigest(),
                        status=ImportBatch.PREVIEW, row_count=len(results),
                        error_count=sum(1 for r in results if not r.ok))
    db.session.add(batch)
    db.session.flush()
    return batch, results


def recent_batches(formation, user, limit: int = 10) -> list[ImportBatch]:
    """The latest imports of the training that ``user`` may see (portal.policy's filter)."""
    return (policy.scoped(db.session.query(ImportBatch), ImportBatch, user)
            .filter(ImportBatch.formation_id == formation.id)
            .order_by(ImportBatch.id.desc()).limit(limit).all())


class AlreadyConfirmed(ImportFileError):
    pass


@dataclass
class ImportOutcome:
    """What a confirmation did: dossiers created, lines refused (an error), lines left out
    because the manager did not confirm them (an open dossier elsewhere)."""

    created: int = 0
    refused: list[int] = field(default_factory=list)
    unconfirmed: list[int] = field(default_factory=list)


def _claim(batch: ImportBatch) -> None:
    """Mark the batch confirmed by a conditional UPDATE: of two confirmations at once, the
    second finds it no longer in preview (it waits for the first's row lock) and stops."""
    claimed = db.session.execute(
        update(ImportBatch).where(ImportBatch.id == batch.id,
                                  ImportBatch.status == ImportBatch.PREVIEW)
        .values(status=ImportBatch.CONFIRMED, confirmed_at=utcnow())
        .execution_options(synchronize_session=False))
    if claimed.rowcount != 1:
        raise AlreadyConfirmed("Cet import a déjà été confirmé : les dossiers ont été "
                               "créés.")
    # Confirmations of two files of one training run one after the other, so that both do not
    # create the same apprentice (PostgreSQL; SQLite's single writer already serialises them).
    db.session.execute(select(Formation.id).where(Formation.id == batch.formation_id)
                       .with_for_update(key_share=True))
    db.session.refresh(batch)


def confirm(batch: ImportBatch, user, confirmed_lines: Iterable[int] = ()) -> ImportOutcome:
    """Create, through the dossier service, the dossiers of the rows of the stored file that
    pass the checks made again now, and invite their apprentices and employer contacts.
    `confirmed_lines`: the lines the manager ticked "Créer quand même" (only a row whose
    apprentice has an open dossier elsewhere needs it; any other line number changes nothing).
    Nothing is committed: the caller commits once, or rolls back on an error."""
    content = bytes(batch.content)
    if hashlib.sha256(content).hexdigest() != batch.sha256:
        raise ImportFileError("Le fichier conservé pour cet import est altéré : déposez-le "
                              "à nouveau.")
    _claim(batch)
    formation = batch.formation
    confirmed = frozenset(confirmed_lines)
    results = preview(formation, content, batch.filename)
    outcome = ImportOutcome()
    rows = []
    for row in results:
        decision = policy.import_row_decision(row, confirmed)
        if decision == CREATE:
            rows.append(row)
        else:
            (outcome.refused if decision == REFUSED else outcome.unconfirmed).append(row.line)
    entries = []
    for row in rows:
        comment = (f"Dossier créé par l'import du fichier « {batch.filename} » "
                   f"(ligne {row.line}).")
        if row.needs_confirmation:
            numbers = ", ".join(f"n° {d.number}" for d in row.open_elsewhere)
            comment += (f" Créé quand même malgré le dossier en cours dans une autre "
                        f"formation ({numbers}).")
        entries.append((row.clean, comment))
    dossiers = create_dossiers(formation, entries, by=user)
    outcome.created = len(dossiers)
    batch.row_count = len(results)
    batch.error_count = len(outcome.refused)
    batch.created_count = outcome.created
    db.session.flush()
    return outcome


# --- template files --------------------------------------------------------------------------

def template_csv() -> bytes:
    """Header and one example row, ';'-separated, UTF-8 with BOM (Excel opens the accents)."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow([label for _, label, _ in COLUMNS])
    writer.writerow([EXAMPLE[key] for key in KEYS])
    return codecs.BOM_UTF8 + out.getvalue().encode("utf-8")


def template_xlsx() -> bytes:
    """The same as a workbook: SIRET and e-mails as text, dates as real dates."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    from portal.rules.imports import parse_date
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Alternants"
    sheet.append([label for _, label, _ in COLUMNS])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    example = [parse_date(EXAMPLE[key]) if key in ("date_naissance", "debut", "fin")
               else EXAMPLE[key] for key in KEYS]
    sheet.append(example)
    for index, key in enumerate(KEYS, start=1):
        letter = get_column_letter(index)
        sheet.column_dimensions[letter].width = 26 if "email" in key else 20
        for row in range(2, 502):
            cell = sheet[f"{letter}{row}"]
            cell.number_format = "DD/MM/YYYY" if key in ("date_naissance", "debut", "fin") \
                else "@"
    sheet.freeze_panes = "A2"
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


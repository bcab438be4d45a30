"""Import of apprentices by a training (CSV or XLSX): read the file, preview every row with its
errors and warnings, then have the background worker create the dossiers of the rows that may
be created — through the one write path, portal.dossiers.service.create_import_rows, which
invites their people — in batches of rows (portal.dossiers.import_batches).

The uploaded bytes are kept in an ImportBatch between the preview and the confirmation: the
confirmation re-reads and re-checks them (the browser only sends the batch id and the lines
the manager ticked "Créer quand même"). Row checks are pure functions in portal.rules.imports.
Nothing here commits: the caller does, once.
"""
from __future__ import annotations

import hashlib
import io
from datetime import date
from dataclasses import dataclass, field
from typing import Iterable

from sqlalchemy import ARRAY, String, func, literal, or_, select, true, union

from portal import exports, policy
from portal.dossiers.import_files import (MAX_BYTES, MAX_LINES, SAMPLE_COLUMN,  # noqa: F401
                                          SAMPLE_MARKER, ParsedRows, parse)
from portal.dossiers import import_batches
from portal.dossiers.workflow import FINAL_STATES, state_label
from portal.extensions import database_kind, db
from portal.models import Dossier, Formation, ImportBatch, User
from portal.rules.identifiers import normalize_email
from portal.rules.imports import (COLUMNS, EXAMPLE, KEYS, ImportFileError,
                                  KnownDossier, RowCheck, cell_text, check_rows)

XLSX_TYPE = exports.XLSX_MIMETYPE
# Reading the file, within limits against hostile files: portal.dossiers.import_files (its
# limits MAX_BYTES and MAX_LINES are re-exported for the import view).


# --- preview and confirmation ----------------------------------------------------------------

_CHUNK = 500  # e-mails per IN (...) list: well under SQLite's bound on parameters


def known_dossiers(formation, emails: Iterable[str], *, other_trainings: bool = True
                   ) -> tuple[dict[str, list[KnownDossier]], dict[str, list[KnownDossier]]]:
    """The dossiers the given apprentice e-mails already have: (in this training, whatever their
    state; open in another training, of any manager — left empty, and not looked for, when not
    ``other_trainings``). An apprentice is found by the dossier's
    e-mail or by their account's, both without case. One query per 500 e-mails, two index
    searches per address (_lookup), never a scan of the dossiers."""
    wanted = sorted({normalize_email(e) for e in emails} - {""})
    in_training: dict[str, list[KnownDossier]] = {}
    elsewhere: dict[str, list[KnownDossier]] = {}
    wanted_here = or_(Dossier.formation_id == formation.id, Dossier.state.not_in(FINAL_STATES)) \
        if other_trainings else Dossier.formation_id == formation.id
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start:start + _CHUNK]
        rows = db.session.execute(_lookup(chunk, wanted_here))
        chunk_set = set(chunk)
        for number, formation_id, state, email, account, intitule, year in rows:
            known = KnownDossier(number=number, training=Formation.label_for(intitule, year),
                                 state=state_label(state))
            target = in_training if formation_id == formation.id else elsewhere
            for address in {email, account} & chunk_set:
                target.setdefault(address, []).append(known)
    return in_training, elsewhere


def _lookup(addresses: list[str], wanted_here):
    """The known dossiers of ``addresses`` (lower case): (id, training, state, the dossier's
    address, its apprentice account's, the training's title and year), by the dossier's
    address (ix_dossiers_apprenti_email_lower) or by the account's (uq_users_email_lower,
    then ix_dossiers_apprentice_user_id). On PostgreSQL each address is looked up on its own
    (a LATERAL join over the list): whatever the planner's statistics — stale just after an
    import of 10 000 rows — it cannot read every dossier instead, as it did for an
    ``IN (…)`` of 500 addresses (70 ms a query at 20 000 dossiers, growing with them)."""
    dossier_email, account_email = func.lower(Dossier.apprenti_email), func.lower(User.email)
    columns = (Dossier.id, Dossier.formation_id, Dossier.state, dossier_email.label("email"),
               account_email.label("account"), Formation.intitule, Formation.annee_campagne)
    postgresql = database_kind() == "postgresql"
    if postgresql:
        listed = (func.unnest(literal(addresses, ARRAY(String))).table_valued("address")
                  .render_derived(name="listed"))
        by_dossier_email = dossier_email == listed.c.address
        by_account_email = account_email == listed.c.address
    else:
        by_dossier_email, by_account_email = (dossier_email.in_(addresses),
                                              account_email.in_(addresses))
    by_dossier = (select(*columns).join(Formation, Formation.id == Dossier.formation_id)
                  .outerjoin(User, User.id == Dossier.apprentice_user_id)
                  .where(by_dossier_email, wanted_here))
    by_account = (select(*columns).join(Formation, Formation.id == Dossier.formation_id)
                  .join(User, User.id == Dossier.apprentice_user_id)
                  .where(by_account_email, wanted_here))
    if postgresql:
        found = union(by_dossier, by_account).lateral("found")
        found = select(found).select_from(listed).join(found, true()).subquery()
    else:
        found = union(by_dossier, by_account).subquery()
    return select(found).distinct().order_by(found.c.id)


def preview(formation, content: bytes, filename: str = "", *,
            today: date | None = None) -> list[RowCheck]:
    """Every data row of the file with its findings; raises ImportFileError (French) when the
    file as a whole cannot be read."""
    rows = parse(content, filename)
    emails = (cell_text(raw.get("email")) for _, raw in rows)
    in_training, elsewhere = known_dossiers(formation, emails)
    # .sample_lines: the template's sample row, skipped (shown as such by the preview).
    return ParsedRows(check_rows(rows, in_training=in_training, elsewhere=elsewhere,
                                 today=today or date.today()), rows.sample_lines)


def create_batch(formation, user, content: bytes, filename: str) -> ImportBatch:
    """Keep the file for its preview and confirmation (no commit). Only the file as a whole is
    read here (raises ImportFileError, in French, when it cannot be): its rows are checked
    once, by the preview page that follows, and again by the worker at the confirmation. The
    refused rows are counted by the confirmation (import_batches)."""
    rows = parse(content, filename)
    batch = ImportBatch(formation_id=formation.id, user_id=getattr(user, "id", None),
                        filename=(filename or "import")[-255:], content=content,
                        sha256=hashlib.sha256(content).hexdigest(),
                        status=ImportBatch.PREVIEW, row_count=len(rows), error_count=0)
    db.session.add(batch)
    db.session.flush()
    return batch


def recent_batches(formation, user, limit: int = 10) -> list[ImportBatch]:
    """The latest imports of the training that ``user`` may see (portal.policy's filter)."""
    return (policy.scoped(db.session.query(ImportBatch), ImportBatch, user)
            .filter(ImportBatch.formation_id == formation.id)
            .order_by(ImportBatch.id.desc()).limit(limit).all())


AlreadyConfirmed = import_batches.AlreadyConfirmed


@dataclass
class ImportOutcome:
    """What a confirmation did: dossiers created, lines refused (an error), lines left out
    because the manager did not confirm them (an open dossier elsewhere)."""

    created: int = 0
    refused: list[int] = field(default_factory=list)
    unconfirmed: list[int] = field(default_factory=list)


def outcome(batch: ImportBatch) -> ImportOutcome:
    """What the background confirmation of ``batch`` did so far."""
    lines = import_batches.outcome_of(batch)
    return ImportOutcome(batch.created_count or 0, lines["refused"], lines["unconfirmed"])


def comment_for(row: RowCheck, filename: str) -> str:
    """The history comment of a dossier created from ``row``."""
    comment = f"Dossier créé par l'import du fichier « {filename} » (ligne {row.line})."
    if row.needs_confirmation:
        numbers = ", ".join(f"n° {d.number}" for d in row.open_elsewhere)
        comment += (f" Créé quand même malgré le dossier en cours dans une autre "
                    f"formation ({numbers}).")
    return comment


def confirm(batch: ImportBatch, user, confirmed_lines: Iterable[int] = ()) -> None:
    """Confirm the import: the batch is marked « en cours » and, once the caller commits, the
    background worker creates, through the dossier service, the dossiers of the rows of the
    stored file that pass the checks made again then, and invites their apprentices and
    employer contacts (portal.dossiers.import_batches). `confirmed_lines`: the lines the
    manager ticked "Créer quand même" (only a row whose apprentice has an open dossier
    elsewhere needs it; any other line number changes nothing). Raises AlreadyConfirmed
    (French) when it already runs or is done, WriteRefused when ``user`` may not create."""
    import_batches.start(batch, user, confirmed_lines)


# --- template files --------------------------------------------------------------------------

# The template's sample row carries SAMPLE_MARKER in a last column of its own ("Remarque",
# ignored by the import): the import skips it by that content (import_files.is_sample).

def template_csv() -> bytes:
    """Header and one example row, ';'-separated, UTF-8 with BOM (Excel opens the accents)."""
    return exports.csv_bytes([label for _, label, _ in COLUMNS] + [SAMPLE_COLUMN],
                             [[EXAMPLE[key] for key in KEYS] + [SAMPLE_MARKER]])


def template_xlsx() -> bytes:
    """The same as a workbook: SIRET and e-mails as text, dates as real dates."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    from portal.rules.imports import parse_date
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Alternants"
    sheet.append([label for _, label, _ in COLUMNS] + [SAMPLE_COLUMN])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    example = [parse_date(EXAMPLE[key]) if key in ("date_naissance", "debut", "fin")
               else EXAMPLE[key] for key in KEYS]
    sheet.append(example + [SAMPLE_MARKER])
    for cell in sheet[2]:
        cell.font = Font(italic=True, color="6C757D")
    sheet.column_dimensions[get_column_letter(len(KEYS) + 1)].width = 38
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


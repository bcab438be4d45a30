"""The import's confirmation, run by the background worker (portal.tasks: run_import) in
batches of rows, each batch one transaction.

The confirm request only *claims* the batch (``start``: apercu or erreur → en_cours, one
conditional UPDATE, so a second POST or a double click is told it already runs or is done)
and the task is enqueued after its commit. The task (``run``) re-reads the stored file
(sha256 checked), checks it again, and handles the data rows after ``ImportBatch.last_line``
BATCH_ROWS at a time: in one transaction it advances ``last_line`` by a conditional UPDATE
(two runs of one batch never handle the same rows: the second finds ``last_line`` moved and
stops), checks again that no dossier of the training has one of the rows' e-mails, creates the
rows' dossiers through the dossier service (service.create_import_rows →
portal.dossiers.import_rows) and records the counts. A failure rolls its batch of rows back
entirely and leaves the import in « erreur » with a French message; confirming again resumes
after the last committed row, and a row already created is in any case an error of the re-check (« déjà un dossier
dans cette formation »): nothing is created twice.
"""
from __future__ import annotations

import hashlib
import json
import logging

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from portal import policy
from portal.dossiers.errors import WriteRefused
from portal.extensions import db
from portal.mail.outbox import public_url, queue
from portal.models import Formation, ImportBatch
from portal.models.people import utcnow
from portal.models.tallies import fold_dossier_tally
from portal.rules.imports import CREATE, REFUSED, ImportFileError

log = logging.getLogger(__name__)

BATCH_ROWS = 500  # data rows per transaction (and per IN (...) list of e-mails)
STALE_MINUTES = 10  # an import « en cours » whose progress has not moved for so long is re-run
PENDING_IMPORTS = "sillon_import_ids"  # Session.info key: batches to run after the commit

ALTERED = "Le fichier conservé pour cet import est altéré : déposez-le à nouveau."
ALREADY_RUNNING = ("Cet import est déjà en cours : les dossiers sont en train d'être créés. "
                   "Suivez sa progression sur cette page.")
ALREADY_DONE = "Cet import a déjà été confirmé : les dossiers ont été créés."


class AlreadyConfirmed(ImportFileError):
    pass


# --- the request: claim the batch, enqueue after the commit ----------------------------------

def start(batch: ImportBatch, user, confirmed_lines) -> None:
    """Mark the batch « en cours » for ``user`` with the ticked lines, if it is in preview or
    failed (a retry); raises AlreadyConfirmed (French) otherwise. The task is enqueued once the
    caller commits. No commit."""
    if hashlib.sha256(bytes(batch.content)).hexdigest() != batch.sha256:
        raise ImportFileError(ALTERED)
    if not policy.may_create_dossier_in(user, batch.formation):
        raise WriteRefused("Vous ne pouvez pas créer de dossier dans cette formation.")
    lines = ",".join(str(n) for n in sorted(set(confirmed_lines)))
    claimed = db.session.execute(
        update(ImportBatch).where(ImportBatch.id == batch.id,
                                  ImportBatch.status.in_((ImportBatch.PREVIEW,
                                                          ImportBatch.FAILED)))
        .values(status=ImportBatch.RUNNING, confirmed_by_id=getattr(user, "id", None),
                confirmed_at=utcnow(), error_message=None,
                confirmed_lines=lines if batch.last_line == 0 else ImportBatch.confirmed_lines)
        .execution_options(synchronize_session=False))
    if claimed.rowcount != 1:
        db.session.refresh(batch)
        raise AlreadyConfirmed(ALREADY_RUNNING if batch.status == ImportBatch.RUNNING
                               else ALREADY_DONE)
    db.session.refresh(batch)
    db.session.info.setdefault(PENDING_IMPORTS, set()).add(batch.id)


def progress(batch: ImportBatch) -> dict:
    """What the batch's page polls (JSON)."""
    total = batch.row_count or 0
    return {"status": batch.status, "label": batch.status_label, "rows_done": batch.rows_done,
            "rows_total": total, "created": batch.created_count or 0,
            "percent": int(100 * batch.rows_done / total) if total else 100,
            "error": batch.error_message}


def outcome_of(batch: ImportBatch) -> dict:
    """The refused and unconfirmed lines recorded so far."""
    data = json.loads(batch.outcome) if batch.outcome else {}
    return {"refused": data.get("refused", []), "unconfirmed": data.get("unconfirmed", [])}


# --- the sweep: an import whose worker died -----------------------------------------------------

def progress_key(batch_id: int) -> str:
    return f"sillon-import-progress-{batch_id}"


def stale_batches(store, now: float) -> list[int]:
    """The imports « en cours » whose progress (last committed line, rows handled) has not
    moved for STALE_MINUTES: their worker died (or their task was never queued). The periodic
    sweep (portal.tasks) queues them again; ``run`` resumes after the last committed row and
    a second run of a live one stops at its first batch of rows (nothing is created twice).
    ``store``: get(key) / put(key, value) shared by the consumers (the queue's storage), where
    the progress seen and since when (``now``, seconds) are kept between sweeps."""
    running = db.session.execute(
        select(ImportBatch.id, ImportBatch.last_line, ImportBatch.rows_done)
        .where(ImportBatch.status == ImportBatch.RUNNING).order_by(ImportBatch.id)).all()
    db.session.rollback()  # end the read transaction
    stale = []
    for batch_id, last_line, done in running:
        key = progress_key(batch_id)
        seen = store.get(key)
        if seen is not None and tuple(seen[:2]) == (last_line, done) \
                and now - seen[2] < STALE_MINUTES * 60:
            continue
        if seen is not None and tuple(seen[:2]) == (last_line, done):
            stale.append(batch_id)
        store.put(key, (last_line, done, now))  # a new progress, or re-queued: wait again
    return stale


# --- the worker ------------------------------------------------------------------------------

def run(batch_id: int) -> str | None:
    """The task: create the dossiers of the rows after ``last_line``; the batch's status at the
    end (None: no such batch). Never raises for a failure of the import itself: it is
    recorded on the batch."""
    from portal.dossiers.imports import preview  # imports builds on this module
    batch = db.session.get(ImportBatch, batch_id, populate_existing=True)
    if batch is None or batch.status != ImportBatch.RUNNING:
        status = batch.status if batch is not None else None
        db.session.rollback()
        return status
    formation = batch.formation
    by = batch.confirmed_by or batch.user
    content = bytes(batch.content)
    try:
        if hashlib.sha256(content).hexdigest() != batch.sha256:
            raise ImportFileError(ALTERED)
        results = preview(formation, content, batch.filename)
    except ImportFileError as exc:
        return _fail(batch_id, str(exc))
    confirmed = frozenset(int(n) for n in (batch.confirmed_lines or "").split(",") if n)
    state = {"last": batch.last_line, "done": batch.rows_done, "filename": batch.filename,
             "created": batch.created_count or 0, **outcome_of(batch)}
    todo = [row for row in results if row.line > state["last"]]
    db.session.commit()  # end the read transaction
    for start_at in range(0, len(todo), BATCH_ROWS):
        rows = todo[start_at:start_at + BATCH_ROWS]
        try:
            if not _commit_rows(batch_id, formation.id, by, rows, confirmed, state):
                return None  # another run of this batch handles these rows
        except Exception as exc:  # noqa: BLE001 - recorded on the batch, in French
            db.session.rollback()
            log.exception("Import %s : échec des lignes %s à %s", batch_id, rows[0].line,
                          rows[-1].line)
            return _fail(batch_id, _failure_message(exc, rows, state))
    return _finish(batch_id, len(results), state)


def _commit_rows(batch_id, formation_id, by, rows, confirmed, state) -> bool:
    """One transaction: advance the batch past ``rows``, create their dossiers, record."""
    from portal.dossiers.imports import comment_for, known_dossiers
    from portal.dossiers.service import create_import_rows
    formation = db.session.execute(select(Formation).where(Formation.id == formation_id)
                                   .with_for_update(key_share=True)).scalar_one()
    advanced = db.session.execute(
        update(ImportBatch).where(ImportBatch.id == batch_id,
                                  ImportBatch.status == ImportBatch.RUNNING,
                                  ImportBatch.last_line == state["last"])
        .values(last_line=rows[-1].line, rows_done=state["done"] + len(rows))
        .execution_options(synchronize_session=False))
    if advanced.rowcount != 1:
        db.session.rollback()
        return False
    refused, unconfirmed, create = [], [], []
    for row in rows:
        decision = policy.import_row_decision(row, confirmed)
        if decision == CREATE:
            create.append(row)
        else:
            (refused if decision == REFUSED else unconfirmed).append(row.line)
    # Created meanwhile by another door: already in the training, refused (never twice).
    in_training, _ = known_dossiers(formation, [r.clean["apprenti_email"] for r in create],
                                    other_trainings=False)
    taken = {r.line for r in create if r.clean["apprenti_email"].lower() in in_training}
    refused += sorted(taken)
    create = [r for r in create if r.line not in taken]
    dossiers = create_import_rows(formation, [(r.clean, comment_for(r, state["filename"]))
                                              for r in create], by=by) if create else []
    new = {"last": rows[-1].line, "done": state["done"] + len(rows),
           "created": state["created"] + len(dossiers),
           "refused": sorted(state["refused"] + refused),
           "unconfirmed": sorted(state["unconfirmed"] + unconfirmed)}
    db.session.execute(
        update(ImportBatch).where(ImportBatch.id == batch_id)
        .values(created_count=new["created"], error_count=len(new["refused"]),
                outcome=json.dumps({"refused": new["refused"],
                                    "unconfirmed": new["unconfirmed"]}))
        .execution_options(synchronize_session=False))
    db.session.commit()
    state.update(new)
    return True


def _failure_message(exc, rows, state) -> str:
    where = f"lignes {rows[0].line} à {rows[-1].line}" if len(rows) > 1 \
        else f"ligne {rows[0].line}"
    cause = ("une autre saisie a créé un compte ou un dossier pour les mêmes personnes, ou une "
             "valeur du fichier a été refusée par la base de données"
             if isinstance(exc, IntegrityError) else "une erreur est survenue")
    done = state["created"]
    return (f"L'import s'est arrêté ({where}) : {cause}. Aucun dossier de ces lignes n'a été "
            f"créé ; {done} dossier{'s' if done > 1 else ''} des lignes précédentes "
            f"{'sont' if done > 1 else 'est'} créé{'s' if done > 1 else ''}. Confirmez à "
            "nouveau pour reprendre : les dossiers déjà créés ne le seront pas une seconde "
            f"fois. (Détail : {type(exc).__name__})")


def _fail(batch_id: int, message: str) -> str:
    db.session.rollback()
    db.session.execute(update(ImportBatch).where(ImportBatch.id == batch_id)
                       .values(status=ImportBatch.FAILED, error_message=message[:2000])
                       .execution_options(synchronize_session=False))
    _mail_manager(db.session.get(ImportBatch, batch_id, populate_existing=True))
    db.session.commit()
    return ImportBatch.FAILED


def _finish(batch_id: int, row_count: int, state) -> str:
    db.session.execute(
        update(ImportBatch).where(ImportBatch.id == batch_id,
                                  ImportBatch.status == ImportBatch.RUNNING)
        .values(status=ImportBatch.CONFIRMED, finished_at=utcnow(), row_count=row_count,
                rows_done=row_count)
        .execution_options(synchronize_session=False))
    batch = db.session.get(ImportBatch, batch_id, populate_existing=True)
    if batch.status == ImportBatch.CONFIRMED:
        _mail_manager(batch)
    db.session.commit()
    fold_dossier_tally(db.session)  # one row per batch of rows added: folded into one
    db.session.commit()
    return batch.status


def batch_path(batch: ImportBatch) -> str:
    return f"/admin/formation/{batch.formation_id}/import/{batch.id}/"


def _mail_manager(batch: ImportBatch) -> None:
    """« Import terminé » (or stopped) to the manager who confirmed, with the counts and a link
    to the batch's page."""
    person = batch.confirmed_by or batch.user
    if person is None or not person.email:
        return
    failed = batch.status == ImportBatch.FAILED
    subject = (f"[Sillon] Import « {batch.filename} » "
               + ("arrêté sur une erreur" if failed else "terminé"))
    result = outcome_of(batch)
    queue(person.email, "import_termine", subject, batch=batch, failed=failed,
          formation=batch.formation, created=batch.created_count or 0,
          refused=len(result["refused"]), unconfirmed=len(result["unconfirmed"]),
          link=public_url(batch_path(batch)), link_label="Voir l'import", user=person)

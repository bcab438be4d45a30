"""One batch of the import's rows written (the background worker, portal.dossiers.import_batches):
entered through the dossier service (service.create_import_rows delegates here, so that every
dossier change still goes through portal.dossiers.service).

``build_rows``: one query for the accounts of all the batch's e-mail addresses (no per-row
lookup); the new accounts, their roles, the dossiers, their history and the invitations
written by Core inserts, one executemany per table (the dossiers' search column filled by its
column default: portal.dossiers.search_columns), then the dossiers and new accounts read back
in one query each; one fast hash per temporary password (portal.accounts.invitations); the
invitations rendered once per template and shape (portal.mail.bulk).
``keep_to_structures``: each dossier kept to the structures its employer contact belongs to,
the access requests of a whole batch made together (establishments.link_known_many).
"""
from __future__ import annotations

from sqlalchemy import Integer, func, insert, inspect, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import lazyload, selectinload

from portal import policy
from portal.accounts import invitations
from portal.dossiers import establishments
from portal.dossiers.errors import WriteRefused
from portal.extensions import database_kind, db
from portal.mail.bulk import BulkMail, queued, token
from portal.models import (ALTERNANT, EMPLOYEUR, Dossier, DossierHistory, OutboxEmail, User,
                           UserRole)
from portal.models.dossiers import INITIAL_STATE


def create_rows(formation, entries, *, by, fields) -> list[Dossier]:
    """service.create_import_rows: ``entries`` ((creation fields among ``fields``, history
    comment), rows already checked) created in bulk, then kept to their structures. No
    commit."""
    dossiers = build_rows(formation, entries, by=by, fields=fields)
    keep_to_structures(dossiers, by)
    return dossiers


def keep_to_structures(dossiers: list, user) -> None:
    """A dossier points at an establishment of a structure its employer contact belongs to
    (portal.policy.may_point_at): a row naming a contact who does not belong to the known
    establishment of its SIRET asks that structure's référent (or the CFA) instead, and shows
    nothing of it until the request is accepted (portal.dossiers.establishments) — as
    link_establishment does for one dossier, for the whole batch at once."""
    db.session.flush()  # the contacts invited above get their ids
    named = [d for d in dossiers if d.etablissement is not None and d.employer_contact is not None]
    members = policy.belonging([(d.employer_contact, d.etablissement.structure) for d in named])
    asking = []
    for dossier in named:
        etab, contact = dossier.etablissement, dossier.employer_contact
        if (contact.id, etab.structure_id) in members:
            continue
        dossier.etablissement, dossier.etablissement_id = None, None
        asking.append((dossier, etab, contact))
    establishments.link_known_many(asking, by=user, members=members)
    number_pending()
    db.session.flush()


def number_pending() -> None:
    """Give the rows the session will insert their ids (drawn as insert_rows does), so that
    the ORM inserts each table's with one executemany instead of one INSERT … RETURNING per
    row on SQLite, or one long INSERT … RETURNING per thousand rows, parsed anew by the driver,
    on PostgreSQL (the access requests, their e-mails and history entries of a batch)."""
    by_table: dict = {}
    for obj in db.session.new:
        state = inspect(obj)
        if state.mapper.primary_key[0].name == "id" and getattr(obj, "id", None) is None:
            by_table.setdefault(state.mapper.local_table, []).append((state.insert_order, obj))
    for table, pending in by_table.items():
        if len(table.primary_key.columns) != 1 or not isinstance(table.c.id.type, Integer):
            continue
        with db.session.no_autoflush:  # the rows to number are not to be flushed yet
            ids = _draw_ids(table, len(pending))
        for number, (_, obj) in zip(ids, sorted(pending, key=lambda pair: pair[0])):
            obj.id = number


def _draw_ids(table, count: int) -> list[int]:
    """``count`` new ids of ``table``, in order. SQLite: as SQLite itself would give them
    (max(rowid) + 1: no AUTOINCREMENT table in this schema), safe because the caller already
    holds the database's write lock (its UPDATE of the import batch), so no other writer
    inserts until the commit. PostgreSQL: drawn from the table's sequence in one statement,
    each value this transaction's alone whoever else inserts meanwhile."""
    if database_kind() == "sqlite":
        start = db.session.scalar(select(func.max(table.c.id))) or 0
        return list(range(start + 1, start + 1 + count))
    sequence = func.pg_get_serial_sequence(table.name, "id")
    return list(db.session.scalars(
        select(func.nextval(sequence)).select_from(func.generate_series(1, count))))


# --- one batch of rows: dossiers, accounts, invitations --------------------------------------

def build_rows(formation, entries, *, by, fields) -> list[Dossier]:
    """The dossiers of ``entries`` ((creation fields, history comment), rows already checked)
    with their history, their apprentices' and employer contacts' accounts found (one query)
    or created, linked and invited (one e-mail per person and batch). The new rows (accounts,
    roles, dossiers, history, e-mails) are Core inserts, one executemany per table; the
    dossiers and new accounts are then read back (one query each) for what follows. Called by
    create_rows, which then keeps each dossier to its structures. No commit."""
    if not policy.may_create_dossier_in(by, formation):
        raise WriteRefused("Vous ne pouvez pas créer de dossier dans cette formation.")
    from portal.models import Etablissement
    norm = invitations.normalize_email
    rows = []
    for values_in, comment in entries:
        unknown = set(values_in) - fields
        if unknown:
            raise ValueError(f"not creation fields: {sorted(unknown)}")
        values = dict(values_in)
        for name in invitations.PEOPLE_FIELDS:
            if values.get(name):
                values[name] = norm(values[name])
        rows.append((values, comment))
    with db.session.no_autoflush:
        sirets = {v.get("employeur_siret") for v, _ in rows} - {None, ""}
        sites = {e.siret: e for e in db.session.execute(
            select(Etablissement).where(Etablissement.siret.in_(sirets))).scalars()} \
            if sirets else {}
        addresses = {v.get(n) for v, _ in rows for n in invitations.PEOPLE_FIELDS} - {None, ""}
        users = {norm(u.email): u for u in db.session.execute(
            select(User).options(selectinload(User.roles))
            .where(func.lower(User.email).in_(sorted(addresses)))).scalars()}
        new: dict[str, dict] = {}        # address → the new account's row
        passwords: dict[str, str] = {}   # address → its temporary password
        by_id = getattr(by, "id", None)
        links = []  # per row: {role: address}
        for values, comment in rows:
            apprentice, contact = values.get("apprenti_email"), values.get("employeur_contact_email")
            linked = {}
            for address, role, first, last in ((apprentice, ALTERNANT, values.get("apprenti_prenom"),
                                                values.get("apprenti_nom")),
                                               (contact, EMPLOYEUR, None, None)):
                if not address:
                    continue
                user = users.get(address)
                if user is None:
                    account = new.get(address)
                    if account is None:
                        account = new[address] = {"email": address, "first_name": first or None,
                                                  "last_name": last or None, "active": True,
                                                  "roles": [role]}
                        passwords[address] = _temporary_password(account)
                    else:
                        if first and not account["first_name"]:
                            account["first_name"] = first
                        if last and not account["last_name"]:
                            account["last_name"] = last
                        if role not in account["roles"]:
                            account["roles"].append(role)
                else:
                    if first and not user.first_name:
                        user.first_name = first
                    if last and not user.last_name:
                        user.last_name = last
                    if role not in user.role_codes:
                        user.roles.append(UserRole(role=role))
                linked[role] = address
            links.append(linked)
        db.session.flush()  # what an earlier step left pending takes its ids first
        created = sorted(new)
        account_rows = [{k: v for k, v in new[a].items() if k != "roles"} for a in created]
        user_ids = insert_rows(User.__table__, account_rows)
        insert_rows(UserRole.__table__, [{"user_id": uid, "role": role}
                                         for uid, a in zip(user_ids, created)
                                         for role in new[a]["roles"]])
        ids = dict(zip(created, user_ids))
        # Read back as Users only the new employer contacts (the dossiers' relationships and
        # structures need them); a new apprentice's invitation needs only what was inserted.
        contacts = [ids[a] for a in created if EMPLOYEUR in new[a]["roles"]]
        if contacts:
            users.update({u.email: u for u in db.session.execute(
                select(User).options(selectinload(User.roles))
                .where(User.id.in_(contacts))).scalars()})
        for address in created:
            if address not in users:
                account = new[address]
                users[address] = _NewAccount(ids[address], address, account["first_name"])
        dossier_rows = []
        for (values, _), linked in zip(rows, links):
            site = sites.get(values.get("employeur_siret"))
            apprentice, contact = linked.get(ALTERNANT), linked.get(EMPLOYEUR)
            dossier_rows.append({
                "formation_id": formation.id, "state": INITIAL_STATE, "created_by_id": by_id,
                "cfa_conseiller_id": formation.conseiller_cfa_id,
                "etablissement_id": site.id if site is not None else None,
                "apprentice_user_id": users[apprentice].id if apprentice else None,
                "employer_contact_id": users[contact].id if contact else None, **values})
        dossier_ids = insert_rows(Dossier.__table__, _same_keys(Dossier.__table__, dossier_rows))
        insert_rows(DossierHistory.__table__, [
            {"dossier_id": number, "user_id": by_id, "kind": "transition",
             "to_state": INITIAL_STATE, "comment": comment}
            for number, (_, comment) in zip(dossier_ids, rows)])
        loaded = {d.id: d for d in db.session.execute(
            select(Dossier).options(lazyload(Dossier.formation))
            .where(Dossier.id.in_(dossier_ids))).scalars()}
        dossiers = [loaded[number] for number in dossier_ids]
        people = [(dossier, linked[role], role) for dossier, linked in zip(dossiers, links)
                  for role in (ALTERNANT, EMPLOYEUR) if role in linked]
        _claim_structures(dossiers)
        _invite(people, users, passwords, by, formation)
    return dossiers


def _temporary_password(account: dict) -> str:
    """invitations.issue_temporary_password for a new account not yet a User: its columns."""
    holder = _Account()
    password = invitations.issue_temporary_password(holder)
    account.update(password_hash=holder.password_hash,
                   temp_password_expires_at=holder.temp_password_expires_at,
                   must_change_password=holder.must_change_password,
                   session_token=holder.session_token)
    return password


class _NewAccount:
    """A new account of the batch that no dossier relationship needs as a User: what its
    invitation reads."""

    active = True

    def __init__(self, id_, email, first_name):
        self.id, self.email, self.first_name = id_, email, first_name


class _Account:
    """What User.set_password writes, without a mapped User (the row is a Core insert)."""

    set_password = User.set_password
    end_sessions = User.end_sessions


def _same_keys(table, rows: list[dict]) -> list[dict]:
    """One executemany needs the same keys in every row: a key some rows lack gets its
    column's default (or NULL), as an absent value would."""
    keys = set().union(*rows) if rows else set()
    for row in rows:
        for key in keys - row.keys():
            default = table.c[key].default
            row[key] = default.arg if default is not None and default.is_scalar else None
    return rows


def insert_rows(table, rows: list[dict]) -> list[int]:
    """Insert ``rows`` into ``table``; their ids, in order. The ids are drawn by _draw_ids
    (SQLAlchemy cannot order SQLite's RETURNING of a batched insert). SQLite: one
    executemany. PostgreSQL: one COPY (_copy_rows) — not INSERT … VALUES (…), (…) RETURNING,
    which psycopg parses anew for every thousand rows (seconds of CPU per 10 000 rows), nor an
    executemany, a round of the driver's Python per row."""
    if not rows:
        return []
    ids = _draw_ids(table, len(rows))
    for number, row in zip(ids, rows):
        row["id"] = number
    if database_kind() == "postgresql":
        _copy_rows(table, rows)
    else:
        db.session.execute(insert(table), rows)
    return ids


class _RowContext:
    """What a column's context-sensitive default reads of its insert (the search columns':
    portal.dossiers.search_columns): the connection and the row's values."""

    def __init__(self, connection):
        self.connection, self.current_parameters = connection, None

    def get_current_parameters(self, isolate_multiinsert_groups=True):
        return self.current_parameters


def _copy_rows(table, rows: list[dict]) -> None:
    """``rows`` (every key a column, the same keys in each) copied into ``table`` with one
    COPY … FROM STDIN, in the session's transaction, as insert(table) would write them: a
    column no row names gets its Python default (a value, or a function of the row), and
    every value goes through its type's bind processing (JSON, Boolean)."""
    connection = db.session.connection()
    dialect = connection.dialect
    named = list(rows[0])
    defaulted = [c for c in table.c if c.key not in rows[0] and c.default is not None]
    columns = [table.c[key] for key in named] + defaulted
    context = _RowContext(connection)
    for row in rows:
        context.current_parameters = row
        for column in defaulted:
            default = column.default
            row[column.key] = default.arg if default.is_scalar else default.arg(context)
    processors = [(column.key, column.type.dialect_impl(dialect).bind_processor(dialect))
                  for column in columns]
    names = ", ".join(dialect.identifier_preparer.quote(c.name) for c in columns)
    target = dialect.identifier_preparer.format_table(table)
    statement = f"COPY {target} ({names}) FROM STDIN"
    cursor = connection.connection.driver_connection.cursor()
    try:
        with cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row([process(row[key]) if process else row[key]
                                for key, process in processors])
    except dialect.loaded_dbapi.Error as exc:
        # As an execute() would raise it: sqlalchemy.exc.IntegrityError for a unique index
        # (an account created meanwhile by another door), which the import reports in French.
        raise DBAPIError.instance(statement, None, exc, dialect.loaded_dbapi.Error,
                                  dialect=dialect) from exc


def _claim_structures(dossiers) -> None:
    """An employer contact on an establishment of a structure without référent claims it
    (invitations.claim_referent_if_first), as link_dossier_people does; a flush before a row
    whose structure an earlier row of the batch may just have claimed."""
    seen: set[int] = set()
    for dossier in dossiers:
        structure = dossier.etablissement.structure if dossier.etablissement else None
        if structure is None or dossier.employer_contact is None:
            continue
        if structure.referent_id is not None or structure.referent is not None:
            continue  # nothing to claim (claim_first_referent would return at once)
        if structure.id in seen:
            db.session.flush()
        invitations.claim_referent_if_first(structure, dossier.employer_contact,
                                            dossiers=(dossier,))
        seen.add(structure.id)


def _invite(people, users, passwords, by, formation) -> None:
    """One e-mail per person of the batch (their first dossier in it): « Bienvenue » with a new
    temporary password to a new or never used account, « Accès au dossier » to a person who
    already uses Sillon, nothing to a deactivated one."""
    mail = BulkMail()
    mailed: set[str] = set()
    invited_by = by
    for dossier, address, role in people:
        if address in mailed:
            continue
        mailed.add(address)
        user = users[address]
        if not user.active:
            continue
        reason = ("votre dossier d'alternance" if role == ALTERNANT
                  else f"le dossier d'alternance de {dossier.apprenti_nom_complet}")
        values = {"first_name": user.first_name or "", "email": user.email,
                  "dossier_id": dossier.id, "apprentice": dossier.apprenti_nom_complet,
                  "login_link": invitations.login_link(address, dossier), "reason": reason}
        shape = (bool(user.first_name),)
        person = _Person(token("first_name") if user.first_name else None, token("email"))
        context = dict(user=person, dossier=_Dossier(token("dossier_id"), token("apprentice"),
                                                     formation),
                       invited_by=invited_by, reason=token("reason"),
                       login_link=token("login_link"))
        if address in passwords or invitations._never_used(user):
            password = passwords.get(address) or invitations.issue_temporary_password(user)
            values.update(password=password, subject="Bienvenue sur Sillon")
            context.update(password=token("password"), subject=token("subject"))
            mail.add(address, "bienvenue", shape=shape, context=context, values=values,
                     dossier_id=dossier.id)
        else:
            values["subject"] = f"[Sillon] Accès au dossier n° {dossier.id}"
            context.update(subject=token("subject"))
            mail.add(address, "acces_ajoute", shape=shape, context=context, values=values,
                     dossier_id=dossier.id)
    db.session.flush()  # e-mails queued meanwhile (a référent claim) take their ids first
    queued(insert_rows(OutboxEmail.__table__, mail.take_rows()))


class _Person:
    def __init__(self, first_name, email):
        self.first_name, self.email = first_name, email


class _Dossier:
    def __init__(self, id_, apprenti_nom_complet, formation):
        self.id, self.apprenti_nom_complet, self.formation = id_, apprenti_nom_complet, formation

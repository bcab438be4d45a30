"""Import of apprentices by the formation: CSV / XLSX upload, preview with every row's errors,
confirmation creating the dossiers and queuing the invitations, no duplicates, rights.

Each test works on a training of its own (created and removed by the `training` fixture) with
unique e-mails, so the shared demo data stays as the other tests expect it."""
from __future__ import annotations

import codecs
import io
import re
import uuid
from datetime import date

import pytest
import sqlalchemy as sa

from portal.rules import ERROR, WARNING
from portal.rules.imports import (CREATE, DUPLICATE_IN_TRAINING, REFUSED, UNCONFIRMED,
                                  ImportFileError, KnownDossier, check_row, check_rows,
                                  map_header)
from portal.policy import import_row_decision as decide
from tests.support.web import csrf_from

DOMAIN = "sillon.demo"
HEADER = ["Nom", "Prénom", "E-mail", "Date de naissance", "SIRET de l'employeur",
          "E-mail du contact employeur", "Début du contrat", "Fin du contrat"]


def _luhn_digit(digits: str) -> str:
    for check in "0123456789":
        total = 0
        for i, ch in enumerate(reversed(digits + check)):
            n = int(ch) * (2 if i % 2 else 1)
            total += n - 9 if n > 9 else n
        if total % 10 == 0:
            return check
    raise AssertionError


def _new_siret(tag: str) -> str:
    siren = "7" + str(int(uuid.UUID(tag).int % 10 ** 7)).zfill(7)
    siren += _luhn_digit(siren)
    nic = "0001"
    return siren + nic + _luhn_digit(siren + nic)


def _user(email):
    from portal.extensions import db
    from portal.models import User
    return db.session.execute(sa.select(User).filter_by(email=email)).scalar_one()


def _make_training(app) -> dict:
    """A training of its own managed by resp.info (gest.info helps), with an employer
    establishment whose SIRET the files use."""
    from portal.extensions import db
    from portal.models import Etablissement, Formation, Structure
    tag = uuid.uuid4().hex
    with app.app_context():
        model = db.session.execute(sa.select(Formation).order_by(Formation.id)).scalars().first()
        resp, gest, conseil = (_user(f"{name}@{DOMAIN}")
                               for name in ("resp.info", "gest.info", "conseil"))
        formation = Formation(cfa_id=model.cfa_id, intitule=f"Formation import {tag[:8]}",
                              annee_campagne=2026, conseiller_cfa_id=conseil.id,
                              date_debut=date(2026, 9, 1), access_code=f"IMP{tag[:10]}")
        formation.responsables.append(resp)
        formation.gestionnaires.append(gest)
        siret = _new_siret(str(uuid.UUID(tag)))
        structure = Structure(siren=siret[:9], raison_sociale=f"Entreprise import {tag[:6]}")
        site = Etablissement(structure=structure, siret=siret, denomination="Site import")
        db.session.add_all([formation, structure, site])
        db.session.commit()
        return dict(id=formation.id, tag=tag, siret=siret, site_id=site.id,
                    structure_id=structure.id, conseil_id=conseil.id,
                    label=str(formation), domain=f"{tag[:12]}.exemple.fr")


def _drop_training(app, info: dict) -> None:
    """Remove everything _make_training made and every test made in it."""
    from portal.extensions import db
    from portal.models import (Dossier, Etablissement, Formation, ImportBatch, OutboxEmail,
                               Structure, StructureMembership, User)
    with app.app_context():
        ids = sa.select(Dossier.id).where(Dossier.formation_id == info["id"])
        db.session.execute(sa.delete(OutboxEmail).where(sa.or_(
            OutboxEmail.dossier_id.in_(ids),
            OutboxEmail.recipients.like(f"%{info['domain']}%"))))
        db.session.execute(sa.delete(Dossier).where(Dossier.formation_id == info["id"]))
        db.session.execute(sa.delete(ImportBatch).where(ImportBatch.formation_id == info["id"]))
        db.session.execute(sa.delete(StructureMembership).where(
            StructureMembership.structure_id == info["structure_id"]))
        db.session.execute(sa.update(Structure).where(Structure.id == info["structure_id"])
                           .values(referent_id=None))
        for user in db.session.execute(sa.select(User).where(
                User.email.like(f"%@{info['domain']}"))).scalars():
            db.session.delete(user)
        db.session.execute(sa.delete(Etablissement).where(Etablissement.id == info["site_id"]))
        db.session.execute(sa.delete(Structure).where(Structure.id == info["structure_id"]))
        db.session.delete(db.session.get(Formation, info["id"]))
        db.session.commit()


@pytest.fixture()
def training(app):
    """A training of its own (see _make_training), removed after the test."""
    info = _make_training(app)
    yield info
    _drop_training(app, info)


@pytest.fixture()
def other_training(app, training):
    """A second training of the same manager, for dossiers "open elsewhere"."""
    info = _make_training(app)
    info["domain"] = training["domain"]  # one domain: the first fixture removes the accounts
    yield info
    _drop_training(app, info)


def _mail(training, name: str) -> str:
    return f"{name}@{training['domain']}"


def _valid_row(training, i: int, *, contact: bool = False, siret: bool = True) -> list[str]:
    return [f"Nom{i}", f"Prénom{i}", _mail(training, f"alt{i}"), "14/03/2004",
            training["siret"] if siret else "",
            _mail(training, f"contact{i}") if contact else "", "01/09/2026", "31/08/2028"]


def _twenty_rows(training) -> tuple[list[list[str]], dict[int, str]]:
    """20 rows: 14 valid, 6 with one distinct error each; returns (rows, line → message)."""
    rows = [_valid_row(training, i, contact=(i < 2), siret=(i % 2 == 0)) for i in range(14)]
    bad = {
        "email": ["Erreur", "Mail", "pas-un-email", "01/01/2003", "", "", "01/09/2026",
                  "31/08/2027"],
        "siret": ["Erreur", "Siret", _mail(training, "siret"), "01/01/2003", "73282932000075",
                  "", "01/09/2026", "31/08/2027"],
        "age": ["Erreur", "Âge", _mail(training, "jeune"), "15/03/2012", "", "",
                "01/09/2026", "31/08/2028"],
        "end": ["Erreur", "Fin", _mail(training, "fin"), "01/01/2003", "", "",
                "01/09/2026", "01/06/2026"],
        "dup": ["Doublon", "Ligne", _mail(training, "alt3"), "01/01/2003", "", "",
                "01/09/2026", "31/08/2027"],
        "name": ["", "Sansnom", _mail(training, "sansnom"), "01/01/2003", "", "",
                 "01/09/2026", "31/08/2027"],
    }
    # Interleave: bad rows at positions 3, 6, 9, 12, 15, 18 (0-based among data rows).
    out, expected, bad_items = [], {}, list(bad.items())
    valid = iter(rows)
    for index in range(20):
        line = index + 2  # the header is line 1
        if index % 3 == 2 and bad_items:
            key, row = bad_items.pop(0)
            out.append(row)
            expected[line] = key
        else:
            out.append(next(valid))
    return out, expected


MESSAGES = {
    "email": "L'adresse e-mail « pas-un-email » n'est pas valide.",
    "siret": "Le SIRET « 73282932000075 » n'est pas valide : 14 chiffres dont le dernier est "
             "une clé de contrôle.",
    "age": "L'apprenti aura 14 ans au début d'exécution du contrat (01/09/2026) : l'âge "
           "minimum est de 15 ans.",
    "end": "La date de fin du contrat (01/06/2026) doit être postérieure à la date de début "
           "d'exécution (01/09/2026).",
    "dup": "Ligne en double : même e-mail que la ligne {line}.",
    "name": "Le nom est obligatoire.",
}


def _csv(rows, *, delimiter=";", bom=True, encoding="utf-8") -> bytes:
    import csv
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(HEADER)
    writer.writerows(rows)
    data = out.getvalue().encode(encoding)
    return (codecs.BOM_UTF8 + data) if bom and encoding == "utf-8" else data


def _xlsx(rows, *, real_dates=True) -> bytes:
    from openpyxl import Workbook
    book = Workbook()
    sheet = book.active
    sheet.append(HEADER)
    for row in rows:
        cells = list(row)
        if real_dates:
            for i in (3, 6, 7):
                if re.fullmatch(r"\d\d/\d\d/\d{4}", cells[i] or ""):
                    d, m, y = cells[i].split("/")
                    try:
                        cells[i] = date(int(y), int(m), int(d))
                    except ValueError:
                        pass  # an impossible date stays text, as a spreadsheet keeps it
        if cells[4] and cells[4].isdigit():
            cells[4] = int(cells[4])  # a SIRET typed as a number
        sheet.append(cells)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _upload(client, training, data: bytes, filename: str):
    url = f"/admin/formation/{training['id']}/import/"
    page = client.get(url)
    assert page.status_code == 200
    return client.post(url, data={"csrf_token": csrf_from(page.get_data(as_text=True)),
                                  "fichier": (io.BytesIO(data), filename)},
                       content_type="multipart/form-data")


def _preview(client, training, data: bytes, filename: str):
    """Upload and follow to the preview: (preview url, html)."""
    response = _upload(client, training, data, filename)
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    url = response.headers["Location"]
    assert re.search(r"/import/\d+/$", url), url
    page = client.get(url)
    assert page.status_code == 200
    return url, page.get_data(as_text=True)


def _confirm(client, preview_url: str, html: str):
    """POST the confirmation, then let the background worker run the import to its end."""
    response = client.post(preview_url + "confirmer/", data={"csrf_token": csrf_from(html)})
    run_worker(client.application, preview_url)
    return response


def _batch_id(url: str) -> int:
    return int(re.search(r"/import/(\d+)/", url).group(1))


def run_worker(app, preview_url: str, timeout: float = 120.0) -> None:
    """The worker's part, in this thread: the queued tasks are taken from the app's Huey queue
    and executed as the consumer executes them, until the import of ``preview_url`` is no
    longer « en cours » (when the `smtp` fixture's consumer runs, it may take them first)."""
    import time
    from portal.extensions import db
    from portal.models import ImportBatch
    huey = app.extensions["sillon_tasks"].huey
    end = time.monotonic() + timeout
    while True:
        task = huey.dequeue()
        if task is not None:
            huey.execute(task)
            continue
        with app.app_context():
            status = db.session.get(ImportBatch, _batch_id(preview_url)).status
        if status != ImportBatch.RUNNING:
            return
        assert time.monotonic() < end, "the import is still running"
        time.sleep(0.02)


def _row_html(html: str, line: int) -> str:
    match = re.search(rf'<tr data-line="{line}"[^>]*>(.*?)</tr>', html, re.S)
    assert match, f"line {line} not in the preview"
    return match.group(1)


def _dossiers(app, training):
    from portal.extensions import db
    from portal.models import Dossier
    with app.app_context():
        return db.session.execute(sa.select(Dossier).where(
            Dossier.formation_id == training["id"]).order_by(Dossier.id)).scalars().all()


def _unescape(html: str) -> str:
    import html as h
    return h.unescape(html)


# --- the full flow ---------------------------------------------------------------------------

def test_twenty_rows_six_refused_fourteen_created_then_reimport_creates_nothing(
        app, login, training, clean_outbox):
    client = login(f"resp.info@{DOMAIN}")
    rows, expected = _twenty_rows(training)
    data = _csv(rows)
    url, html = _preview(client, training, data, "promo.csv")
    text = _unescape(html)
    assert "20 lignes lues" in re.sub(r"<[^>]+>", "", text)
    assert "Confirmer l'import de 14 dossiers" in text
    refused = re.findall(r'<tr data-line="(\d+)" class="import-refused"', html)
    assert sorted(map(int, refused)) == sorted(expected)
    first_alt3 = next(i + 2 for i, r in enumerate(rows) if r[2] == _mail(training, "alt3"))
    for line, key in expected.items():
        cell = _unescape(_row_html(html, line))
        assert MESSAGES[key].format(line=first_alt3) in cell, (key, cell)
        assert "Prêt" not in cell
        assert "table-danger" in cell
    for line in set(range(2, 22)) - set(expected):
        assert "Prêt" in _row_html(html, line)

    response = _confirm(client, url, html)
    assert response.status_code == 302
    done = _unescape(client.get(url).get_data(as_text=True))
    assert "14 dossiers créés" in done

    from portal.extensions import db
    from portal.models import DossierHistory, ImportBatch, OutboxEmail
    created = _dossiers(app, training)
    assert len(created) == 14
    with app.app_context():
        resp = _user(f"resp.info@{DOMAIN}")
        emails = set()
        for d in created:
            d = db.session.merge(d)
            assert d.state == "initialise"
            assert d.created_by_id == resp.id
            assert d.cfa_conseiller_id == training["conseil_id"]
            assert d.apprentice_user is not None and d.apprentice_user.email == d.apprenti_email
            assert d.apprenti_email == d.apprenti_email.lower()
            assert d.date_debut_contrat == date(2026, 9, 1)
            assert d.apprenti_date_naissance == date(2004, 3, 14)
            if d.employeur_siret and d.employer_contact is None:
                assert d.etablissement_id == training["site_id"]  # the training's word
            elif d.employeur_siret:
                # A contact who is no member of that structure: the dossier asks its
                # référent (or the CFA) and points at nothing of it meanwhile.
                assert d.etablissement_id is None
                assert d.etablissement_demande_id == training["site_id"]
            else:
                assert d.etablissement_id is None
            emails.add(d.apprenti_email)
        assert {d.apprenti_email for d in created} == \
            {_mail(training, f"alt{i}") for i in range(14)}
        # The invitations, queued in the same transaction: one "Bienvenue" per new person.
        welcome = db.session.execute(sa.select(OutboxEmail.recipients).where(
            OutboxEmail.subject == "Bienvenue sur Sillon")).scalars().all()
        assert emails <= set(welcome)
        assert {_mail(training, "contact0"), _mail(training, "contact1")} <= set(welcome)
        contact = next(d for d in created if d.apprenti_email == _mail(training, "alt0"))
        assert db.session.merge(contact).employer_contact.email == _mail(training, "contact0")
        assert db.session.scalar(sa.select(sa.func.count()).select_from(DossierHistory).where(
            DossierHistory.dossier_id.in_([d.id for d in created]),
            DossierHistory.comment.like("%import%"))) == 14
        batch = db.session.execute(sa.select(ImportBatch).where(
            ImportBatch.formation_id == training["id"])).scalar_one()
        assert (batch.status, batch.row_count, batch.error_count, batch.created_count) == \
            ("confirme", 20, 6, 14)
        outbox_before = db.session.scalar(sa.select(sa.func.count()).select_from(OutboxEmail))
        assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxEmail).where(
            OutboxEmail.subject.like("[Sillon] Import%"))) == 1  # the first batch's

    # Confirming the same batch again is refused and creates nothing.
    again = _confirm(client, url, html)
    assert again.status_code == 302
    assert "déjà été confirmé" in _unescape(client.get(url).get_data(as_text=True))
    assert len(_dossiers(app, training)) == 14

    # Re-importing the same file: every former valid row is now a duplicate in the training.
    url2, html2 = _preview(client, training, data, "promo.csv")
    text2 = _unescape(html2)
    assert DUPLICATE_IN_TRAINING in text2
    assert text2.count(DUPLICATE_IN_TRAINING) == 14 + 1  # + the in-file duplicate of alt3
    assert "Aucune ligne n'est prête" in text2
    assert "Confirmer l'import" not in text2
    _confirm(client, url2, html2)
    assert len(_dossiers(app, training)) == 14
    with app.app_context():
        # No invitation: only the manager's « Import … terminé » e-mail of the second batch.
        assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxEmail)) == \
            outbox_before + 1
        assert db.session.scalar(sa.select(OutboxEmail.subject).order_by(
            OutboxEmail.id.desc()).limit(1)) == "[Sillon] Import « promo.csv » terminé"


@pytest.mark.parametrize("kind", ["xlsx", "csv-semicolon-bom", "csv-comma", "csv-cp1252"])
def test_file_formats(app, login, training, kind):
    client = login(f"gest.info@{DOMAIN}")  # the gestionnaire imports too
    rows = [
        ["Éléonore", "Françoise-Hélène", _mail(training, "eleonore"), "02/02/2003",
         training["siret"], "", "01/09/2026", "31/08/2028"],
        ["Dupont", "Zoé", _mail(training, "zoe").upper(), "2004-05-06", "", "",
         "2026-09-01", "2027-08-31"],
        ["Bad", "Date", _mail(training, "baddate"), "31/02/2004", "", "", "01/09/2026",
         "31/08/2027"],
    ]
    if kind == "xlsx":
        data, name = _xlsx(rows), "promo.xlsx"
    elif kind == "csv-semicolon-bom":
        data, name = _csv(rows), "promo.csv"
    elif kind == "csv-comma":
        data, name = _csv(rows, delimiter=",", bom=False), "promo.csv"
    else:
        data, name = _csv(rows, encoding="cp1252"), "promo.csv"
        data.decode("cp1252")
        with pytest.raises(UnicodeDecodeError):
            data.decode("utf-8")
    url, html = _preview(client, training, data, name)
    text = _unescape(html)
    assert "Françoise-Hélène" in text and "Éléonore" in text
    assert "Date de naissance : « 31/02/2004 » n'est pas une date valide" in text
    assert "Confirmer l'import de 2 dossiers" in text
    assert _confirm(client, url, html).status_code == 302
    created = {d.apprenti_email: d for d in _dossiers(app, training)}
    assert set(created) == {_mail(training, "eleonore"), _mail(training, "zoe")}
    e = created[_mail(training, "eleonore")]
    assert (e.apprenti_nom, e.apprenti_prenom) == ("Éléonore", "Françoise-Hélène")
    assert e.employeur_siret == training["siret"] and e.etablissement_id == training["site_id"]
    assert e.apprenti_date_naissance == date(2003, 2, 2)
    z = created[_mail(training, "zoe")]
    assert (z.date_debut_contrat, z.date_fin_contrat) == (date(2026, 9, 1), date(2027, 8, 31))


def test_headers_are_matched_loosely(app, login, training):
    client = login(f"admin@{DOMAIN}")
    header = ["  NOM ", "prenom", "Courriel", "DATE DE NAISSANCE", "Siret employeur",
              "E-mail contact employeur", "Date de début du contrat", "Date de fin du contrat",
              "Commentaire"]
    body = ";".join(header) + "\r\n" + ";".join(
        ["Martin", "Léa", _mail(training, "lea"), "14/03/2005", "", "", "01/09/2026",
         "31/08/2028", "ignoré"]) + "\r\n;;;;;;;;\r\n"
    url, html = _preview(client, training, body.encode("utf-8"), "entetes.csv")
    assert "Confirmer l'import de 1 dossier<" in _unescape(html).replace("</button>", "<")


def test_shared_employer_contact_is_invited_once(app, login, training, clean_outbox):
    """Several apprentices of one company: its HR contact gets one invitation and is linked
    to every dossier. The company is one the CFA registered (the import only finds known
    establishments): naming contacts does not give it a référent (portal.accounts decides,
    called once per contact claim), and nobody gets a second membership of it."""
    from portal.extensions import db
    from portal.models import OutboxEmail, Structure, StructureMembership, User
    with app.app_context():
        db.session.execute(sa.update(Structure).where(Structure.id == training["structure_id"])
                           .values(origine=Structure.ORIGINE_CFA))
        db.session.commit()
    client = login(f"resp.info@{DOMAIN}")
    hr, other = _mail(training, "rh"), _mail(training, "autre-rh")
    rows = [[f"Nom{i}", "Prénom", _mail(training, f"shared{i}"), "14/03/2004",
             training["siret"], hr if i != 2 else other, "01/09/2026", "31/08/2028"]
            for i in range(4)]
    url, html = _preview(client, training, _csv(rows), "societe.csv")
    assert _confirm(client, url, html).status_code == 302
    created = _dossiers(app, training)
    assert len(created) == 4
    with app.app_context():
        users = {u.email: u for u in db.session.execute(sa.select(User).where(
            User.email.in_([hr, other]))).scalars()}
        assert len(users) == 2
        assert [d.employer_contact_id for d in created] == [
            users[hr].id, users[hr].id, users[other].id, users[hr].id]
        # They are no members of the structure: every dossier asks it, none points at it.
        assert all(d.etablissement_id is None and d.etablissement_demande_id ==
                   training["site_id"] for d in created)
        welcome = db.session.execute(sa.select(OutboxEmail.recipients).where(
            OutboxEmail.subject == "Bienvenue sur Sillon")).scalars().all()
        assert welcome.count(hr) == 1 and welcome.count(other) == 1
        structure = db.session.get(Structure, training["structure_id"])
        assert structure.referent_id is None
        members = db.session.execute(sa.select(StructureMembership.user_id).where(
            StructureMembership.structure_id == structure.id)).scalars().all()
        assert len(members) == len(set(members)) and set(members) == {users[hr].id,
                                                                      users[other].id}
        assert set(db.session.execute(sa.select(StructureMembership.status).where(
            StructureMembership.structure_id == structure.id)).scalars()) == {
            StructureMembership.DEMANDE}


# --- refusals --------------------------------------------------------------------------------

def test_not_a_table_gets_a_french_message(app, login, training):
    client = login(f"resp.info@{DOMAIN}")
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01" + bytes(range(256)) * 4
    for data, name in ((png, "photo.csv"), (png, "photo.xlsx"),
                       (b"PK\x03\x04" + b"\x00" * 200, "faux.xlsx"),
                       (b"\xd0\xcf\x11\xe0" + b"\x00" * 200, "ancien.xls"),
                       (b"", "vide.csv"),
                       ("Nom;Prénom\r\nA;B\r\n".encode(), "incomplet.csv"),
                       ("Nom;Prénom;E-mail\r\n".encode(), "entetes.csv")):
        response = _upload(client, training, data, name)
        assert response.status_code == 302, name
        assert response.headers["Location"].endswith(f"/admin/formation/{training['id']}/import/")
        page = _unescape(client.get(response.headers["Location"]).get_data(as_text=True))
        assert re.search(r"alert-(danger|error)", page), name
        assert any(m in page for m in ("ni un fichier CSV ni un classeur Excel",
                                       "ne peut pas être lu", "Excel 97-2003",
                                       "n'est pas un classeur Excel",
                                       "Le fichier est vide", "Colonne obligatoire absente",
                                       "que la ligne d'en-têtes")), (name, page[-3000:])
    from portal.models import ImportBatch
    assert _dossiers(app, training) == []
    assert _count(app, ImportBatch, ImportBatch.formation_id == training["id"]) == 0


def test_too_big_file(app, login, training):
    from portal.models import ImportBatch
    client = login(f"resp.info@{DOMAIN}")
    data = _csv([]) + b"x" * (5 * 1024 * 1024)
    response = _upload(client, training, data, "gros.csv")
    page = _unescape(client.get(response.headers["Location"]).get_data(as_text=True))
    assert "dépasse la taille maximale de 5 Mo" in page and "Rien n'a été importé" in page
    assert _count(app, ImportBatch, ImportBatch.formation_id == training["id"]) == 0


def test_rights(app, login, training):
    base = f"/admin/formation/{training['id']}/import/"
    # A manager of another training: the training does not exist for them.
    other = login(f"resp.droit@{DOMAIN}")
    assert other.get(base).status_code == 404
    assert other.get(base + "modele.csv").status_code == 404
    # Employers and apprentices do not open trainings at all.
    for email in (f"rh@acme.{DOMAIN}", f"alice@etu.{DOMAIN}"):
        client = login(email)
        assert client.get(base).status_code in (403, 404), email
    # A batch of this training, reached by the other manager: 404 too; confirm as well.
    owner = login(f"resp.info@{DOMAIN}")
    url, html = _preview(owner, training, _csv([_valid_row(training, 1)]), "un.csv")
    before = _snapshot(app, training["id"])
    assert other.get(url).status_code == 404
    from tests.support.web import csrf
    assert other.post(url + "confirmer/", data={"csrf_token": csrf(other)}).status_code == 404
    assert _snapshot(app, training["id"]) == before
    # Without the CSRF token the confirmation is refused.
    assert owner.post(url + "confirmer/", data={}).status_code == 400
    assert _snapshot(app, training["id"]) == before
    # The batch belongs to its training: under the URL of another training of the same
    # manager it does not exist, for the page and for the confirmation.
    second = _make_training(app)
    try:
        moved = url.replace(f"/formation/{training['id']}/", f"/formation/{second['id']}/")
        assert owner.get(moved).status_code == 404
        assert owner.post(moved + "confirmer/",
                          data={"csrf_token": csrf_from(html)}).status_code == 404
        assert _snapshot(app, training["id"]) == before
        assert _dossiers(app, second) == []
    finally:
        _drop_training(app, second)
    # An id that is not one, or no batch: 404.
    base_batch = f"/admin/formation/{training['id']}/import/"
    assert owner.get(base_batch + "999999999/").status_code == 404
    assert _dossiers(app, training) == []
    # The CFA adviser may import.
    adviser = login(f"conseil@{DOMAIN}")
    assert adviser.get(base).status_code == 200
    assert _confirm(adviser, url, adviser.get(url).get_data(as_text=True)).status_code == 302
    assert len(_dossiers(app, training)) == 1


def test_template_download_and_reimport(app, login, training):
    """The templates read cleanly; their sample row is never imported (issue 15: it used to
    be created as a real apprentice), a row typed under it is."""
    from portal.dossiers.import_files import SAMPLE_COLUMN, SAMPLE_MARKER
    client = login(f"resp.info@{DOMAIN}")
    base = f"/admin/formation/{training['id']}/import/"
    csv_template = client.get(base + "modele.csv")
    assert csv_template.status_code == 200
    assert csv_template.data.startswith(codecs.BOM_UTF8)
    assert "attachment" in csv_template.headers["Content-Disposition"]
    lines = csv_template.data.decode("utf-8-sig").splitlines()
    assert lines[0].split(";") == HEADER + [SAMPLE_COLUMN]
    assert len(lines) == 2 and lines[1].endswith(";" + SAMPLE_MARKER)
    xlsx_template = client.get(base + "modele.xlsx")
    assert xlsx_template.status_code == 200
    assert xlsx_template.data.startswith(b"PK")
    # The template alone: only its sample row, nothing to import.
    for data, name in ((csv_template.data, "modele-import-alternants.csv"),
                       (xlsx_template.data, "modele.xlsx")):
        response = _upload(client, training, data, name)
        page = _unescape(client.get(response.headers["Location"]).get_data(as_text=True))
        assert "ne contient que la ligne d'exemple du modèle (ligne 2)" in page, name
    # A row typed under the sample row: that one only is ready, in both formats.
    from openpyxl import load_workbook
    workbook = load_workbook(io.BytesIO(xlsx_template.data))
    # Typed on line 3, as a person does (the template's cells are formatted down to line 501,
    # so openpyxl's append() would write under them).
    for column, value in enumerate(_valid_row(training, 1), start=1):
        workbook.active.cell(row=3, column=column, value=value)
    out = io.BytesIO()
    workbook.save(out)
    _, html_xlsx = _preview(client, training, out.getvalue(), "modele.xlsx")
    csv_data = csv_template.data + ";".join(_valid_row(training, 1)).encode() + b"\r\n"
    url, html = _preview(client, training, csv_data, "modele-import-alternants.csv")
    for page in (html_xlsx, html):
        text = _unescape(page)
        assert "Confirmer l'import de 1 dossier" in text
        assert "Ligne 2 : ligne d'exemple du modèle, ignorée" in text
        assert 'data-line="2"' not in page
    assert _unescape(_row_html(html_xlsx, 3)) == _unescape(_row_html(html, 3))
    assert _confirm(client, url, html).status_code == 302
    assert [d.apprenti_email for d in _dossiers(app, training)] == [_valid_row(training, 1)[2]]
    assert "lea.martin@example.com" not in [d.apprenti_email for d in _dossiers(app, training)]


def test_upload_page_offers_the_templates_and_csrf(app, login, training):
    client = login(f"gest.info@{DOMAIN}")
    html = client.get(f"/admin/formation/{training['id']}/import/").get_data(as_text=True)
    assert 'name="csrf_token"' in html
    assert "modele.csv" in html and "modele.xlsx" in html
    assert _unescape(html).count("Importer des alternant·es") == 1


# --- the pure row checks ---------------------------------------------------------------------

def test_row_rules():
    ok = dict(nom="Martin", prenom="Léa", email="Lea.Martin@Exemple.fr",
              date_naissance="14/03/2005", siret="356 000 000 00048", contact_email="",
              debut="01/09/2026", fin="31/08/2028")
    row = check_row(2, ok, today=date(2026, 1, 1))
    assert row.ok, row.findings
    assert row.clean["apprenti_email"] == "lea.martin@exemple.fr"
    assert row.clean["employeur_siret"] == "35600000000048"  # La Poste's head office
    # Fifteen is the minimum: 14 refused (the message states the age), 15 accepted here.
    young = check_row(3, dict(ok, date_naissance="02/09/2011"), today=date(2026, 1, 1))
    assert [f.message for f in young.errors] == [
        "L'apprenti aura 14 ans au début d'exécution du contrat (01/09/2026) : l'âge minimum "
        "est de 15 ans."]
    assert check_row(3, dict(ok, date_naissance="01/09/2011"), today=date(2026, 1, 1)).ok
    # Over 29 is a warning only (RQTH and other exceptions are told on the dossier).
    old = check_row(4, dict(ok, date_naissance="01/01/1990"), today=date(2026, 1, 1))
    assert old.ok and old.warnings
    assert not check_row(5, dict(ok, siret="7,32829E+13")).ok
    assert not check_row(5, dict(ok, debut="2026-13-01")).ok
    assert check_row(5, dict(ok, debut=45901.0, fin=date(2028, 8, 31))).clean[
        "date_debut_contrat"] == date(2025, 9, 1)
    assert not check_row(6, dict(ok, contact_email=ok["email"])).ok
    assert not check_row(6, dict(ok, prenom="")).ok
    assert not check_row(6, dict(ok, nom="x" * 101)).ok
    # Optional columns may be empty.
    minimal = check_row(7, dict(nom="A", prenom="B", email="a@b.fr"))
    assert minimal.ok and minimal.clean["employeur_siret"] is None
    # Duplicates: in the training, then in the file (the second row points to the first).
    here = KnownDossier(12, "Licence pro (2026)", "Annulé")
    results = check_rows([(2, ok), (3, dict(ok, email="LEA.martin@exemple.fr")),
                          (4, dict(ok, email="autre@exemple.fr"))],
                         in_training={"Autre@Exemple.fr": [here]})
    assert [r.ok for r in results] == [True, False, False]
    assert results[1].errors[0].message == "Ligne en double : même e-mail que la ligne 2."
    assert results[2].errors[0].message == (
        "L'alternant·e a déjà un dossier dans cette formation (n° 12) : aucun dossier ne sera "
        "créé.")
    assert all(f.level == ERROR for r in results[1:] for f in r.errors)


def test_open_dossier_elsewhere_rules():
    """An open dossier in another training: a warning naming it, and a row created only when
    its line is ticked; an error (in the training, in the file) is never created, ticked or
    not; a tick on a line without the warning changes nothing."""
    ok = dict(nom="Martin", prenom="Léa", email="lea@exemple.fr")
    there = [KnownDossier(34, "Master Informatique (2026)", "Saisie en cours"),
             KnownDossier(35, "BTS MCO (2026)", "Validation demandée")]
    here = [KnownDossier(7, "Cette formation (2026)", "Initialisé")]
    rows = check_rows([(2, ok), (3, dict(ok, email="LEA@exemple.fr")),
                       (4, dict(ok, email="paul@exemple.fr")),
                       (5, dict(ok, email="zoe@exemple.fr")),
                       (6, dict(ok, email="eve@exemple.fr", nom=""))],
                      in_training={"zoe@exemple.fr": here},
                      elsewhere={"LEA@exemple.fr": there, "zoe@exemple.fr": there,
                                 "eve@exemple.fr": there[:1]})
    lea, again, paul, zoe, eve = rows
    assert lea.ok and lea.needs_confirmation
    assert [(f.level, f.field) for f in lea.warnings] == [(WARNING, "apprenti_email")]
    assert lea.warnings[0].message == (
        "L'alternant·e a déjà des dossiers en cours dans une autre formation (n° 34 en "
        "« Master Informatique (2026) », état « Saisie en cours » ; n° 35 en « BTS MCO "
        "(2026) », état « Validation demandée »). Cochez « Créer quand même » pour lui créer "
        "aussi un dossier dans celle-ci.")
    assert not again.ok and "même e-mail que la ligne 2" in again.errors[0].message
    assert paul.ok and not paul.needs_confirmation and not paul.findings
    assert not zoe.ok and not zoe.needs_confirmation  # in the training wins: an error
    assert "(n° 7)" in zoe.errors[0].message
    assert not eve.ok and eve.needs_confirmation
    decisions = {r.line: decide(r, {2, 3, 4, 5, 6, 99}) for r in rows}
    assert decisions == {2: CREATE, 3: REFUSED, 4: CREATE, 5: REFUSED, 6: REFUSED}
    assert {r.line: decide(r) for r in rows} == {2: UNCONFIRMED, 3: REFUSED, 4: CREATE,
                                                5: REFUSED, 6: REFUSED}
    # One warning only: "Saisie en cours" single dossier wording.
    single = check_rows([(2, ok)], elsewhere={"lea@exemple.fr": there[:1]})[0]
    assert "déjà un dossier en cours dans une autre formation (n° 34 en « Master " \
        "Informatique (2026) », état « Saisie en cours »)" in single.warnings[0].message


def test_header_rules():
    assert sorted(map_header(["Nom", "Prénom", "E-MAIL", "x"]).values()) == ["email", "nom",
                                                                           "prenom"]
    with pytest.raises(ImportFileError, match="« E-mail »"):
        map_header(["Nom", "Prénom"])
    with pytest.raises(ImportFileError, match="deux fois"):
        map_header(["Nom", "Prénom", "E-mail", "Courriel"])


# --- an apprentice who already has a dossier (issue 11) ---------------------------------------

ALICE = "alice@etu.sillon.demo"   # demo: an open dossier (en saisie) in m_info, of resp.info
BRUNO = "bruno@etu.sillon.demo"   # demo: an open dossier in the master of law (resp.droit)


def _demo_formation(app, intitule_start: str) -> dict:
    from portal.extensions import db
    from portal.models import Formation
    with app.app_context():
        formation = db.session.execute(sa.select(Formation).where(
            Formation.intitule.like(f"{intitule_start}%"))).scalar_one()
        return dict(id=formation.id, label=str(formation))


def _open_dossier_of(app, email: str) -> dict:
    from portal.dossiers.workflow import FINAL_STATES, state_label
    from portal.extensions import db
    from portal.models import Dossier
    with app.app_context():
        dossier = db.session.execute(sa.select(Dossier).where(
            sa.func.lower(Dossier.apprenti_email) == email,
            Dossier.state.not_in(FINAL_STATES))).scalar_one()
        return dict(id=dossier.id, formation_id=dossier.formation_id,
                    training=str(dossier.formation), state=state_label(dossier.state))


def _count(app, model, *where) -> int:
    from portal.extensions import db
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def _snapshot(app, formation_id: int) -> tuple:
    """What a refused POST must leave as it was: the training's dossiers, the outbox (but the
    manager's « Import … terminé » e-mails), the accounts, the statuses of the training's
    import batches."""
    from portal.extensions import db
    from portal.models import Dossier, ImportBatch, OutboxEmail, User
    with app.app_context():
        dossiers = tuple(db.session.execute(sa.select(Dossier.id, Dossier.apprenti_email).where(
            Dossier.formation_id == formation_id).order_by(Dossier.id)).all())
        batches = tuple(db.session.execute(sa.select(
            ImportBatch.id, ImportBatch.status, ImportBatch.created_count).where(
            ImportBatch.formation_id == formation_id).order_by(ImportBatch.id)).all())
        return (dossiers, batches,
                _count(app, OutboxEmail, OutboxEmail.subject.not_like("[Sillon] Import %")),
                _count(app, User))


def _confirm_lines(client, preview_url: str, html: str, lines):
    response = client.post(preview_url + "confirmer/", data={
        "csrf_token": csrf_from(html), "creer_quand_meme": [str(x) for x in lines]})
    run_worker(client.application, preview_url)
    return response


def _flashes(client, url: str) -> str:
    return _unescape(client.get(url).get_data(as_text=True))


@pytest.fixture()
def demo_import_cleanup(app):
    """The finding is replayed on the demo trainings: remove afterwards every dossier, e-mail,
    account and batch the test made there (rows created after the test started)."""
    from portal.extensions import db
    from portal.models import Dossier, ImportBatch, OutboxEmail, User
    with app.app_context():
        marks = [db.session.scalar(sa.select(sa.func.max(m.id))) or 0
                 for m in (Dossier, ImportBatch, OutboxEmail, User)]
    yield
    with app.app_context():
        dossier_mark, batch_mark, mail_mark, user_mark = marks
        db.session.execute(sa.delete(OutboxEmail).where(OutboxEmail.id > mail_mark))
        db.session.execute(sa.delete(Dossier).where(Dossier.id > dossier_mark))
        db.session.execute(sa.delete(ImportBatch).where(ImportBatch.id > batch_mark))
        for user in db.session.execute(sa.select(User).where(User.id > user_mark)).scalars():
            db.session.delete(user)
        db.session.commit()


def test_finding_second_dossier_for_an_apprentice_with_an_open_one(
        app, login, demo_import_cleanup, clean_outbox):
    """Issue 11, replayed through HTTP on the demo data: resp.info imports into the licence
    an apprentice who has an open dossier in the master of the same manager (Alice), one whose
    open dossier is in another manager's training (Bruno) and a new one. Before: all three were
    created silently. Now Alice and Bruno are warnings with a tick box; unticked they are left
    out (and said so); ticked they are created; once created, they are errors."""
    from portal.models import Dossier, DossierHistory, ImportBatch, OutboxEmail
    licence = _demo_formation(app, "Licence professionnelle")
    alice, bruno = _open_dossier_of(app, ALICE), _open_dossier_of(app, BRUNO)
    assert alice["formation_id"] != licence["id"] and bruno["formation_id"] != licence["id"]
    newcomer = f"nouvelle.{uuid.uuid4().hex[:8]}@exemple.fr"
    rows = [["Perrin", "Alice", ALICE.upper(), "", "", "", "01/09/2026", "31/08/2027"],
            ["Lefebvre", "Bruno", BRUNO, "", "", "", "01/09/2026", "31/08/2027"],
            ["Nouvelle", "Inès", newcomer, "", "", "", "01/09/2026", "31/08/2027"]]
    client = login(f"resp.info@{DOMAIN}")
    url, html = _preview(client, licence, _csv(rows), "promo.csv")
    text = _unescape(html)
    for line, who in ((2, alice), (3, bruno)):
        cell = _unescape(_row_html(html, line))
        assert "déjà un dossier en cours dans une autre formation" in cell
        assert f"n° {who['id']} en « {who['training']} », état « {who['state']} »" in cell
        assert f'name="creer_quand_meme" value="{line}"' in cell and "Créer quand même" in cell
        assert "Prêt" not in cell
    assert "Prêt" in _row_html(html, 4) and "creer_quand_meme" not in _row_html(html, 4)
    assert "Confirmer l'import de 1 dossier et des lignes cochées" in text
    assert "2 à confirmer" in text

    # Confirmed without ticking: only the newcomer is created; the result says who was not.
    before = _snapshot(app, licence["id"])
    response = _confirm(client, url, html)
    assert response.status_code == 302
    page = _flashes(client, url)
    assert "1 dossier créé" in page
    assert "2 lignes non importées faute de confirmation « Créer quand même » (lignes 2, 3)" \
        in page
    assert "2 lignes non importées faute de confirmation" in page.split('id="import-done"')[1]
    created = [d for d in _dossiers(app, licence) if d.id not in {x[0] for x in before[0]}]
    assert [d.apprenti_email for d in created] == [newcomer]
    for email in (ALICE, BRUNO):
        assert _count(app, Dossier, Dossier.formation_id == licence["id"],
                      sa.func.lower(Dossier.apprenti_email) == email) == 0
    assert _count(app, OutboxEmail, OutboxEmail.recipients.in_([ALICE, BRUNO])) == 0

    # The same file again: the newcomer is now an error; Alice is ticked, and so is the
    # newcomer's line by a forged form (and lines that do not exist): Alice only is created.
    url, html = _preview(client, licence, _csv(rows), "promo.csv")
    first = created[0].id
    assert f"déjà un dossier dans cette formation (n° {first})" in _unescape(_row_html(html, 4))
    assert "creer_quand_meme" not in _row_html(html, 4)
    assert _confirm_lines(client, url, html, [2, 4, 99, 0]).status_code == 302
    page = _flashes(client, url)
    assert "1 dossier créé" in page and "(ligne 3)" in page and "(ligne 4)" in page
    mine = _dossiers(app, licence)
    assert [d.apprenti_email for d in mine].count(newcomer) == 1
    assert [d.apprenti_email for d in mine].count(ALICE) == 1
    assert BRUNO not in [d.apprenti_email for d in mine]
    alice_new = next(d for d in mine if d.apprenti_email == ALICE)
    from portal.extensions import db
    with app.app_context():
        assert db.session.get(Dossier, alice_new.id).apprentice_user.email == ALICE
        comment = db.session.execute(sa.select(DossierHistory.comment).where(
            DossierHistory.dossier_id == alice_new.id)).scalar_one()
        assert "ligne 2" in comment and f"n° {alice['id']}" in comment
    assert _count(app, OutboxEmail, OutboxEmail.recipients == ALICE) == 1
    # The dossiers the two already had are untouched.
    assert _open_dossier_of(app, BRUNO) == bruno
    with app.app_context():
        kept = db.session.get(Dossier, alice["id"])
        assert (kept.formation_id, kept.apprenti_email) == (alice["formation_id"], ALICE)

    # Third time: Alice is in the training now, an error even when a forged form ticks her
    # line (and the newcomer's); Bruno, not ticked, is left out again. Nothing changes.
    url, html = _preview(client, licence, _csv(rows), "promo.csv")
    assert f"déjà un dossier dans cette formation (n° {alice_new.id})" in \
        _unescape(_row_html(html, 2))
    assert "creer_quand_meme" not in _row_html(html, 2)
    before = _snapshot(app, licence["id"])
    assert _confirm_lines(client, url, html, [2, 4]).status_code == 302
    after = _snapshot(app, licence["id"])
    assert after[0] == before[0] and after[2:] == before[2:]  # no dossier, e-mail, account
    page = _flashes(client, url)
    assert "Aucun dossier n'a été créé." in page
    assert "1 ligne non importée faute de confirmation « Créer quand même » (ligne 3)" in page
    assert "2 lignes refusées (lignes 2, 4)" in page
    with app.app_context():
        batch = db.session.execute(sa.select(ImportBatch).order_by(
            ImportBatch.id.desc())).scalars().first()
        assert (batch.status, batch.row_count, batch.error_count, batch.created_count) == \
            ("confirme", 3, 2, 0)


def _service_dossier(app, formation_id: int, email: str, *, state: str | None = None) -> int:
    """A dossier made the way the portal makes one (the service), as the test's starting
    point; `state` then puts it where the test needs it."""
    from portal.dossiers.service import create_dossier
    from portal.extensions import db
    from portal.models import Dossier, Formation
    with app.test_request_context():
        resp = _user(f"resp.info@{DOMAIN}")
        dossier = create_dossier(db.session.get(Formation, formation_id),
                                 {"apprenti_nom": "Déjà", "apprenti_prenom": "Là",
                                  "apprenti_email": email},
                                 by=resp, source="create_form", invite=False)
        db.session.commit()
        if state:
            db.session.execute(sa.update(Dossier).where(Dossier.id == dossier.id)
                               .values(state=state))
            db.session.commit()
        return dossier.id


def test_dossier_in_the_training_is_an_error_even_ticked(app, login, training, clean_outbox):
    """Whatever its state (here cancelled), a dossier in this very training and campaign
    refuses the row, whatever the form posts."""
    from portal.extensions import db
    from portal.models import Dossier
    existing, legacy = _mail(training, "deja"), _mail(training, "ancien")
    number = _service_dossier(app, training["id"], existing, state="annule")
    # A dossier stored before e-mails were written in lower case.
    old = _service_dossier(app, training["id"], legacy)
    with app.app_context():
        db.session.execute(sa.update(Dossier).where(Dossier.id == old)
                           .values(apprenti_email=legacy.replace("ancien", "Ancien")))
        db.session.commit()
    client = login(f"gest.info@{DOMAIN}")
    rows = [["Déjà", "Là", existing.upper(), "", "", "", "", ""], _valid_row(training, 1),
            ["Ancien", "A", legacy, "", "", "", "", ""]]
    url, html = _preview(client, training, _csv(rows), "promo.csv")
    cell = _unescape(_row_html(html, 2))
    assert f"L'alternant·e a déjà un dossier dans cette formation (n° {number})" in cell
    assert "table-danger" in cell and "creer_quand_meme" not in cell
    assert f"déjà un dossier dans cette formation (n° {old})" in _unescape(_row_html(html, 4))
    before = _snapshot(app, training["id"])
    assert _confirm_lines(client, url, html, [2, "2", "x", -1, 4]).status_code == 302
    emails = [d.apprenti_email.lower() for d in _dossiers(app, training)]
    assert emails.count(existing) == 1 and emails.count(_mail(training, "alt1")) == 1
    assert emails.count(legacy) == 1
    assert len(emails) == len(before[0]) + 1
    assert "2 lignes refusées (lignes 2, 4)" in _flashes(client, url)


def test_apprentice_found_by_their_account(app, login, training, other_training):
    """The apprentice of a dossier is also its account: a dossier whose e-mail field was
    changed since still counts for the person whose account it is."""
    from portal.extensions import db
    from portal.models import Dossier, User
    person = _mail(training, "compte")
    number = _service_dossier(app, other_training["id"], _mail(training, "ancienne-adresse"))
    with app.app_context():
        account = User(email=person, active=True)
        db.session.add(account)
        db.session.flush()
        db.session.execute(sa.update(Dossier).where(Dossier.id == number)
                           .values(apprentice_user_id=account.id))
        db.session.commit()
    client = login(f"resp.info@{DOMAIN}")
    url, html = _preview(client, training, _csv([["Compte", "C", person.upper(), "", "", "",
                                                  "", ""]]), "promo.csv")
    cell = _unescape(_row_html(html, 2))
    assert f"n° {number} en « {other_training['label']} »" in cell
    assert 'name="creer_quand_meme" value="2"' in cell


def test_confirmation_checks_again(app, login, training, other_training, clean_outbox):
    """Between the preview and the confirmation the world changes: a row whose apprentice got
    an open dossier elsewhere meanwhile is left out unless ticked (it was not: it had no box);
    a ticked row whose other dossier was closed meanwhile is created as any row."""
    appeared, closed = _mail(training, "apparu"), _mail(training, "ferme")
    other = _service_dossier(app, other_training["id"], closed)
    client = login(f"resp.info@{DOMAIN}")
    rows = [["Apparu", "A", appeared, "", "", "", "", ""],
            ["Fermé", "F", closed, "", "", "", "", ""]]
    url, html = _preview(client, training, _csv(rows), "promo.csv")
    assert "Prêt" in _row_html(html, 2)
    assert f"n° {other} en « {other_training['label']} », état « Initialisé »" in \
        _unescape(_row_html(html, 3))
    _service_dossier(app, other_training["id"], appeared)
    from portal.extensions import db
    from portal.models import Dossier
    with app.app_context():
        db.session.execute(sa.update(Dossier).where(Dossier.id == other).values(state="rompu"))
        db.session.commit()
    # The page, read again, shows the new facts: a closed dossier is no longer "open".
    again = client.get(url).get_data(as_text=True)
    assert "Prêt" in _row_html(again, 3) and "creer_quand_meme" not in _row_html(again, 3)
    assert 'name="creer_quand_meme" value="2"' in _row_html(again, 2)
    assert _confirm_lines(client, url, html, [3]).status_code == 302
    assert [d.apprenti_email for d in _dossiers(app, training)] == [closed]
    assert "1 ligne non importée faute de confirmation « Créer quand même » (ligne 2)" in \
        _flashes(client, url)


def test_stored_file_altered(app, login, training):
    from portal.extensions import db
    from portal.models import ImportBatch
    client = login(f"resp.info@{DOMAIN}")
    url, html = _preview(client, training, _csv([_valid_row(training, 1)]), "un.csv")
    batch_id = int(re.search(r"/import/(\d+)/$", url).group(1))
    with app.app_context():
        db.session.execute(sa.update(ImportBatch).where(ImportBatch.id == batch_id).values(
            content=_csv([_valid_row(training, 2)])))
        db.session.commit()
    before = _snapshot(app, training["id"])
    assert _confirm(client, url, html).status_code == 302
    assert "est altéré" in _flashes(client, url)
    assert _snapshot(app, training["id"]) == before


def test_the_service_checks_the_right(app, training):
    """The import creates through the dossier service, which refuses a person who may not
    create in the training (the route refuses earlier; this is the second lock)."""
    from portal.dossiers import imports
    from portal.dossiers.service import WriteRefused
    from portal.extensions import db
    from portal.models import Formation, ImportBatch
    with app.test_request_context():
        owner, outsider = _user(f"resp.info@{DOMAIN}"), _user(f"resp.droit@{DOMAIN}")
        formation = db.session.get(Formation, training["id"])
        batch = imports.create_batch(formation, owner, _csv([_valid_row(training, 1)]),
                                     "un.csv")
        db.session.commit()
        with pytest.raises(WriteRefused, match="Vous ne pouvez pas créer de dossier"):
            imports.confirm(batch, outsider)
        db.session.rollback()
        assert db.session.get(ImportBatch, batch.id).status == ImportBatch.PREVIEW
    assert _dossiers(app, training) == []


# --- two confirmations at once ----------------------------------------------------------------

class _Hold:
    """Holds, from a connection of its own, the locks a confirmation needs on the given import
    batches (PostgreSQL: their rows; SQLite: the database's write lock), so that requests
    started meanwhile all wait at the same point; release() lets them go together."""

    def __init__(self, app, batch_ids):
        from portal.extensions import db
        with app.app_context():
            self.raw = db.engine.raw_connection()
        self.sqlite = self.raw.dbapi_connection.__class__.__module__.startswith("sqlite3")
        cursor = self.raw.cursor()
        if self.sqlite:
            self.raw.dbapi_connection.isolation_level = None
            cursor.execute("BEGIN IMMEDIATE")
        else:
            cursor.execute("SELECT id FROM import_batches WHERE id = ANY(%s) FOR UPDATE",
                           (list(batch_ids),))
        cursor.close()

    def release(self):
        if self.sqlite:
            self.raw.cursor().execute("ROLLBACK")
            self.raw.dbapi_connection.isolation_level = ""
        else:
            self.raw.rollback()
        self.raw.close()


def _at_once(app, posts):
    """Run the (client, url, data) POSTs in threads while the locks are held, check they all
    wait, then release them together. Returns their status codes."""
    import threading
    import time
    batch_ids = {int(re.search(r"/import/(\d+)/", url).group(1)) for _, url, _ in posts}
    hold = _Hold(app, batch_ids)
    codes = [None] * len(posts)

    def run(index, client, url, data):
        codes[index] = client.post(url, data=data).status_code

    threads = [threading.Thread(target=run, args=(i, *post)) for i, post in enumerate(posts)]
    try:
        for thread in threads:
            thread.start()
        time.sleep(1.0)
        waiting = [thread.is_alive() for thread in threads]
    finally:
        hold.release()
    for thread in threads:
        thread.join(30)
    assert waiting == [True] * len(posts), "the requests did not wait on the lock"
    return codes


def test_two_confirmations_of_one_batch_at_once(app, login, training, clean_outbox):
    from portal.extensions import db
    from portal.models import ImportBatch, OutboxEmail
    owner, helper = login(f"resp.info@{DOMAIN}"), login(f"gest.info@{DOMAIN}")
    rows = [_valid_row(training, i, contact=(i == 0)) for i in range(3)]
    url, html = _preview(owner, training, _csv(rows), "promo.csv")
    helper_html = helper.get(url).get_data(as_text=True)
    codes = _at_once(app, [
        (owner, url + "confirmer/", {"csrf_token": csrf_from(html)}),
        (helper, url + "confirmer/", {"csrf_token": csrf_from(helper_html)})])
    assert codes == [302, 302]
    run_worker(app, url)
    pages = [_flashes(client, url) for client in (owner, helper)]
    assert all("3 dossiers créés ;" in p for p in pages)  # the outcome, on the batch's page
    launched = [p for p in pages if "Import lancé" in p]
    refused = [p for p in pages if "Cet import est déjà en cours" in p
               or "Cet import a déjà été confirmé" in p]
    assert len(launched) == 1 and len(refused) == 1, pages
    assert sorted(d.apprenti_email for d in _dossiers(app, training)) == \
        sorted(_mail(training, f"alt{i}") for i in range(3))
    with app.app_context():
        batch = db.session.execute(sa.select(ImportBatch).where(
            ImportBatch.formation_id == training["id"])).scalar_one()
        assert (batch.status, batch.row_count, batch.error_count, batch.created_count) == \
            ("confirme", 3, 0, 3)
        welcome = db.session.execute(sa.select(OutboxEmail.recipients).where(
            OutboxEmail.subject == "Bienvenue sur Sillon")).scalars().all()
        assert sorted(welcome) == sorted([_mail(training, f"alt{i}") for i in range(3)]
                                         + [_mail(training, "contact0")])


def test_two_files_with_one_apprentice_confirmed_at_once(app, login, training, clean_outbox):
    """Two batches of one training naming the same apprentice, confirmed at the same time:
    one dossier only (the confirmations of a training run one after the other)."""
    owner, helper = login(f"resp.info@{DOMAIN}"), login(f"gest.info@{DOMAIN}")
    data = _csv([_valid_row(training, 1)])
    url_a, html_a = _preview(owner, training, data, "a.csv")
    url_b, html_b = _preview(helper, training, data, "b.csv")
    codes = _at_once(app, [
        (owner, url_a + "confirmer/", {"csrf_token": csrf_from(html_a)}),
        (helper, url_b + "confirmer/", {"csrf_token": csrf_from(html_b)})])
    assert codes == [302, 302]
    run_worker(app, url_a)
    run_worker(app, url_b)
    assert [d.apprenti_email for d in _dossiers(app, training)] == [_mail(training, "alt1")]
    pages = [_flashes(owner, url_a), _flashes(helper, url_b)]
    assert sum("1 dossier créé ;" in p for p in pages) == 1
    assert sum("1 ligne refusée (ligne 2)" in p for p in pages) == 1


def test_person_created_by_another_door_during_the_confirmation(app, login, training,
                                                                 db_backend, clean_outbox):
    """While the confirmation runs, another transaction creates the account of one of the
    file's apprentices. PostgreSQL: the confirmation waits for it, then is refused in French,
    nothing kept, and can be confirmed again; SQLite (one writer): it waits, then finds the
    account and links it. Never a 500, never a second account."""
    import threading
    import time
    from sqlalchemy.orm import Session
    from portal.extensions import db
    from portal.models import ImportBatch, User
    person = _mail(training, "alt1")
    client = login(f"resp.info@{DOMAIN}")
    url, html = _preview(client, training, _csv([_valid_row(training, 1)]), "un.csv")
    with app.app_context():
        other = Session(bind=db.engine.connect())
    other.add(User(email=person, active=True))
    other.flush()  # written, not committed: the other door's transaction is still open
    result = {}
    thread = threading.Thread(target=lambda: result.update(code=_confirm(client, url, html)
                                                             .status_code))
    try:
        thread.start()
        time.sleep(1.0)
        waited = thread.is_alive()
        other.commit()
    finally:
        other.close()
        other.bind.close()
    thread.join(30)
    assert waited and result == {"code": 302}
    page = _flashes(client, url)
    assert _count(app, User, sa.func.lower(User.email) == person) == 1
    with app.app_context():
        status = db.session.execute(sa.select(ImportBatch.status).where(
            ImportBatch.formation_id == training["id"])).scalar_one()
    if db_backend == "postgresql":
        assert "une autre saisie a créé un compte ou un dossier" in page
        assert _dossiers(app, training) == [] and status == ImportBatch.FAILED
        assert "Reprendre l'import" in page
        assert _confirm(client, url, client.get(url).get_data(as_text=True)).status_code == 302
        assert "1 dossier créé" in _flashes(client, url)
    else:
        assert "1 dossier créé" in page and status == ImportBatch.CONFIRMED
    created = _dossiers(app, training)
    with app.app_context():
        assert [db.session.merge(d).apprentice_user.email for d in created] == [person]


def test_a_contact_who_belongs_to_the_structure_gets_the_dossier_on_its_establishment(
        app, login, training, clean_outbox):
    """The référent of ACME named as contact on an ACME SIRET: the dossier points at it (the
    rule that keeps an outsider's dossier off a known establishment lets members through)."""
    from portal.extensions import db
    from portal.models import Etablissement, Structure, User
    with app.app_context():
        referent = db.session.execute(sa.select(User).where(
            User.email == f"rh@acme.{DOMAIN}")).scalar_one()
        site = db.session.execute(sa.select(Etablissement).join(Structure).where(
            Structure.referent_id == referent.id)).scalars().first()
        siret, site_id = site.siret, site.id
    client = login(f"resp.info@{DOMAIN}")
    rows = [["Membre", "Prénom", _mail(training, "membre-acme"), "14/03/2004", siret,
             f"rh@acme.{DOMAIN}", "01/09/2026", "31/08/2028"]]
    url, html = _preview(client, training, _csv(rows), "acme.csv")
    assert _confirm(client, url, html).status_code == 302
    [dossier] = _dossiers(app, training)
    assert dossier.etablissement_id == site_id and dossier.etablissement_demande_id is None

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

from portal.rules import ERROR
from portal.rules.imports import DUPLICATE_IN_TRAINING, check_row, check_rows, map_header, \
    ImportFileError
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


@pytest.fixture()
def training(app):
    """A training of its own managed by resp.info (gest.info helps), with an employer
    establishment whose SIRET the files use; everything the test created is removed after."""
    from portal.extensions import db
    from portal.models import Etablissement, Formation, Structure, User
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
        info = dict(id=formation.id, tag=tag, siret=siret, site_id=site.id,
                    structure_id=structure.id, conseil_id=conseil.id,
                    domain=f"{tag[:12]}.exemple.fr")
    yield info
    with app.app_context():
        from portal.models import Dossier, ImportBatch, OutboxEmail, StructureMembership
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
        formation = db.session.get(Formation, info["id"])
        db.session.delete(formation)
        db.session.commit()


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
    return client.post(preview_url + "confirmer/", data={"csrf_token": csrf_from(html)})


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
            if d.employeur_siret:
                assert d.etablissement_id == training["site_id"]
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
        assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxEmail)) == \
            outbox_before


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
    to every dossier; the first contact named becomes the structure's référent."""
    client = login(f"resp.info@{DOMAIN}")
    hr, other = _mail(training, "rh"), _mail(training, "autre-rh")
    rows = [[f"Nom{i}", "Prénom", _mail(training, f"shared{i}"), "14/03/2004",
             training["siret"], hr if i != 2 else other, "01/09/2026", "31/08/2028"]
            for i in range(4)]
    url, html = _preview(client, training, _csv(rows), "societe.csv")
    assert _confirm(client, url, html).status_code == 302
    from portal.extensions import db
    from portal.models import OutboxEmail, Structure, StructureMembership, User
    created = _dossiers(app, training)
    assert len(created) == 4
    with app.app_context():
        users = {u.email: u for u in db.session.execute(sa.select(User).where(
            User.email.in_([hr, other]))).scalars()}
        assert len(users) == 2
        assert [d.employer_contact_id for d in created] == [
            users[hr].id, users[hr].id, users[other].id, users[hr].id]
        assert all(d.etablissement_id == training["site_id"] for d in created)
        welcome = db.session.execute(sa.select(OutboxEmail.recipients).where(
            OutboxEmail.subject == "Bienvenue sur Sillon")).scalars().all()
        assert welcome.count(hr) == 1 and welcome.count(other) == 1
        structure = db.session.get(Structure, training["structure_id"])
        assert structure.referent_id == users[hr].id
        members = db.session.execute(sa.select(StructureMembership.user_id).where(
            StructureMembership.structure_id == structure.id)).scalars().all()
        assert members == [users[hr].id]


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
    assert _dossiers(app, training) == []


def test_too_big_file(app, login, training):
    client = login(f"resp.info@{DOMAIN}")
    data = _csv([]) + b"x" * (5 * 1024 * 1024)
    response = _upload(client, training, data, "gros.csv")
    page = _unescape(client.get(response.headers["Location"]).get_data(as_text=True))
    assert "dépasse 5 Mo" in page


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
    assert other.get(url).status_code == 404
    from tests.support.web import csrf
    assert other.post(url + "confirmer/", data={"csrf_token": csrf(other)}).status_code == 404
    # Without the CSRF token the confirmation is refused.
    assert owner.post(url + "confirmer/", data={}).status_code == 400
    assert _dossiers(app, training) == []
    # The CFA adviser may import.
    adviser = login(f"conseil@{DOMAIN}")
    assert adviser.get(base).status_code == 200
    assert _confirm(adviser, url, adviser.get(url).get_data(as_text=True)).status_code == 302
    assert len(_dossiers(app, training)) == 1


def test_template_download_and_reimport(app, login, training):
    client = login(f"resp.info@{DOMAIN}")
    base = f"/admin/formation/{training['id']}/import/"
    csv_template = client.get(base + "modele.csv")
    assert csv_template.status_code == 200
    assert csv_template.data.startswith(codecs.BOM_UTF8)
    assert "attachment" in csv_template.headers["Content-Disposition"]
    lines = csv_template.data.decode("utf-8-sig").splitlines()
    assert lines[0].split(";") == HEADER
    assert len(lines) == 2
    xlsx_template = client.get(base + "modele.xlsx")
    assert xlsx_template.status_code == 200
    assert xlsx_template.data.startswith(b"PK")
    # Both templates read cleanly: one row ready, the same values.
    _, html_xlsx = _preview(client, training, xlsx_template.data, "modele.xlsx")
    url, html = _preview(client, training, csv_template.data, "modele-import-alternants.csv")
    for page in (html_xlsx, html):
        assert "Confirmer l'import de 1 dossier" in _unescape(page)
    assert _unescape(_row_html(html_xlsx, 2)) == _unescape(_row_html(html, 2))
    assert _confirm(client, url, html).status_code == 302
    example = "lea.martin@example.com"
    try:
        assert [d.apprenti_email for d in _dossiers(app, training)] == [example]
        # Imported again: already in this training, hence refused.
        _, again = _preview(client, training, xlsx_template.data, "modele.xlsx")
        text = _unescape(again)
        assert DUPLICATE_IN_TRAINING in text and "Aucune ligne n'est prête" in text
    finally:
        from portal.extensions import db
        from portal.models import Dossier, OutboxEmail, User
        with app.app_context():
            db.session.execute(sa.delete(OutboxEmail).where(OutboxEmail.recipients == example))
            db.session.execute(sa.delete(Dossier).where(Dossier.formation_id == training["id"]))
            for user in db.session.execute(sa.select(User).where(User.email == example)).scalars():
                db.session.delete(user)
            db.session.commit()


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
    results = check_rows([(2, ok), (3, dict(ok, email="LEA.martin@exemple.fr")),
                          (4, dict(ok, email="autre@exemple.fr"))],
                         existing_emails={"autre@exemple.fr"})
    assert [r.ok for r in results] == [True, False, False]
    assert results[1].errors[0].message == "Ligne en double : même e-mail que la ligne 2."
    assert results[2].errors[0].message == DUPLICATE_IN_TRAINING
    assert all(f.level == ERROR for r in results[1:] for f in r.errors)


def test_header_rules():
    assert sorted(map_header(["Nom", "Prénom", "E-MAIL", "x"]).values()) == ["email", "nom",
                                                                           "prenom"]
    with pytest.raises(ImportFileError, match="« E-mail »"):
        map_header(["Nom", "Prénom"])
    with pytest.raises(ImportFileError, match="deux fois"):
        map_header(["Nom", "Prénom", "E-mail", "Courriel"])

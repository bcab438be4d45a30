"""C19 where a training is entered: the training's form (/admin/formation/, the CFA admin's
full form) checks the UAI of the CFA and of the main training site, the code diplôme (CFD) and
the RNCP code through HTTP, on the real database.

A refused form answers the form page again (200, as every Flask-Admin form of Sillon does) with
the French message inside the field's own form group, and saves nothing; a good one is saved,
its codes normalised. The rows a test creates are deleted after it.
"""
from __future__ import annotations

import html
import re
import uuid

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import Cfa, EtablissementFormation, Formation
from tests.support.web import csrf_from
from tests.test_fuzz_routes import form_defaults

ADMIN = "admin@sillon.demo"
NEW = "/admin/formation/new/"
GOOD_UAI, BAD_UAI = "0751234J", "0751234A"     # 0751234 mod 23 = 8 → "J"


def field_errors(page: str, name: str) -> list[str]:
    """The messages shown in the form group of input `name` (Flask-Admin's invalid-feedback
    right after the input or select)."""
    match = re.search(r'id="%s"[^>]*>(.*?)(?=<div class="form-group|</form>)' % re.escape(name),
                      page, re.S)
    assert match, f"no field {name} in the page"
    feedback = re.search(r'<div class="invalid-feedback">(.*?)</div>', match.group(1), re.S)
    if not feedback:
        return []
    return [html.unescape(re.sub(r"\s+", " ", li)).strip()
            for li in re.findall(r"<li>(.*?)</li>", feedback.group(1), re.S)]


@pytest.fixture()
def world(app):
    """Sites with a good, a bad and no UAI, and a CFA with a bad UAI; removed afterwards with
    every training posted by the test (its title carries the test's tag)."""
    tag = uuid.uuid4().hex[:8]
    with app.app_context():
        cfa = db.session.execute(sa.select(Cfa).order_by(Cfa.id)).scalars().first()
        rows = {
            "good": EtablissementFormation(cfa_id=cfa.id, nom=f"Site bon {tag}", uai=GOOD_UAI),
            "bad": EtablissementFormation(cfa_id=cfa.id, nom=f"Site faux {tag}", uai=BAD_UAI),
            "none": EtablissementFormation(cfa_id=cfa.id, nom=f"Site sans UAI {tag}", uai=None),
            "bad_cfa": Cfa(nom=f"CFA faux {tag}", uai=BAD_UAI, siret="73282932000074"),
        }
        db.session.add_all(rows.values())
        db.session.commit()
        ids = {key: row.id for key, row in rows.items()}
        ids["cfa"] = cfa.id
    yield tag, ids
    with app.app_context():
        db.session.execute(sa.delete(Formation).where(Formation.intitule.contains(tag)))
        db.session.execute(sa.delete(EtablissementFormation).where(
            EtablissementFormation.id.in_([ids["good"], ids["bad"], ids["none"]])))
        db.session.execute(sa.delete(Cfa).where(Cfa.id == ids["bad_cfa"]))
        db.session.commit()


def saved(app, tag: str) -> list[Formation]:
    with app.app_context():
        rows = db.session.execute(sa.select(Formation).where(
            Formation.intitule.contains(tag))).scalars().all()
        for row in rows:
            db.session.expunge(row)
        return rows


def post_new(client, title: str, **fields):
    page = client.get(NEW).get_data(as_text=True)
    body = form_defaults(page)
    body.update(intitule=title, annee_campagne="2026", **fields)
    return client.post(NEW, data={**body, "csrf_token": csrf_from(page)})


# Each case: the posted fields (site: key of the world's sites, or None), the field whose form
# group must carry the message, and words of that message.
REFUSED = [
    pytest.param({"site": "bad"}, "etablissement_formation",
                 f"Le numéro UAI {BAD_UAI} du lieu de formation principal « Site faux",
                 id="site_bad_uai"),
    pytest.param({"site": "none"}, "etablissement_formation",
                 "Le lieu de formation principal « Site sans UAI", id="site_without_uai"),
    pytest.param({"cfa": "bad_cfa"}, "cfa", f"Le numéro UAI {BAD_UAI} du CFA « CFA faux",
                 id="cfa_bad_uai"),
    pytest.param({"code_diplome": "3203121"}, "code_diplome",
                 "Le code diplôme (CFD) 3203121 n'est pas valide : 8 caractères", id="cfd_7"),
    pytest.param({"code_diplome": "3203-218"}, "code_diplome", "n'est pas valide",
                 id="cfd_dash"),
    pytest.param({"code_diplome": "320312189"}, "code_diplome",
                 "Le code diplôme (CFD) 320312189 n'est pas valide", id="cfd_9_too_long"),
    pytest.param({"code_rncp": "RNCP383621"}, "code_rncp",
                 "Le code RNCP RNCP383621 n'est pas valide", id="rncp_6_digits_too_long"),
    pytest.param({"code_rncp": "RNCP12"}, "code_rncp",
                 "Le code RNCP RNCP12 n'est pas valide : « RNCP » suivi de 3 à 5 chiffres",
                 id="rncp_2_digits"),
    pytest.param({"code_rncp": "38362"}, "code_rncp", "Le code RNCP 38362 n'est pas valide",
                 id="rncp_without_prefix"),
]


@pytest.mark.parametrize("fields, field, words", REFUSED)
def test_a_bad_identifier_is_refused_next_to_its_field(app, login, world, fields, field,
                                                        words):
    tag, ids = world
    posted = {"code_diplome": "32031218", "code_rncp": "RNCP38362",
              "cfa": str(ids["cfa"]), "etablissement_formation": str(ids["good"])}
    fields = dict(fields)
    if "site" in fields:
        posted["etablissement_formation"] = str(ids[fields.pop("site")])
    if "cfa" in fields:
        posted["cfa"] = str(ids[fields.pop("cfa")])
    posted.update(fields)
    response = post_new(login(ADMIN), f"Formation C19 {tag}", **posted)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    errors = field_errors(page, field)
    assert any(words in message for message in errors), errors
    assert not any("Field" in message or "characters" in message for message in errors), errors
    # Only that field is refused: every other identifier of the form is good.
    for other in {"cfa", "etablissement_formation", "code_diplome", "code_rncp"} - {field}:
        assert field_errors(page, other) == [], other
    assert saved(app, tag) == []


def test_good_identifiers_are_saved_normalised(app, login, world):
    tag, ids = world
    response = post_new(login(ADMIN), f"Formation C19 {tag}", cfa=str(ids["cfa"]),
                        etablissement_formation=str(ids["good"]), code_diplome="3203 1218",
                        code_rncp="rncp 38362")
    assert response.status_code == 302, field_errors(response.get_data(as_text=True),
                                                     "code_diplome")
    [formation] = saved(app, tag)
    assert (formation.code_diplome, formation.code_rncp) == ("32031218", "RNCP38362")
    assert formation.etablissement_formation_id == ids["good"]


def test_no_site_and_no_codes_are_accepted(app, login, world):
    """The main training site and both codes are optional: the CFA is then the site."""
    tag, ids = world
    response = post_new(login(ADMIN), f"Formation C19 {tag}", cfa=str(ids["cfa"]),
                        etablissement_formation="__None", code_diplome="", code_rncp="")
    assert response.status_code == 302
    [formation] = saved(app, tag)
    assert formation.etablissement_formation_id is None
    assert not formation.code_diplome and not formation.code_rncp


def test_an_edit_with_a_bad_rncp_changes_nothing(app, login):
    with app.app_context():
        formation = db.session.execute(sa.select(Formation).where(
            Formation.code_rncp.isnot(None)).order_by(Formation.id)).scalars().first()
        formation_id, rncp = formation.id, formation.code_rncp
    client = login(ADMIN)
    url = f"/admin/formation/edit/?id={formation_id}"
    page = client.get(url).get_data(as_text=True)
    body = form_defaults(page)
    assert body["code_rncp"] == rncp
    response = client.post(url, data={**body, "code_rncp": "RNCP1",
                                      "csrf_token": csrf_from(page)})
    assert response.status_code == 200
    assert any("Le code RNCP RNCP1 n'est pas valide" in m
               for m in field_errors(response.get_data(as_text=True), "code_rncp"))
    with app.app_context():
        assert db.session.get(Formation, formation_id).code_rncp == rncp

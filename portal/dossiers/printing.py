"""What a dossier's generated documents print (CERFA, convention, devis): the dossier as its
tabs show it — its establishment, employer and training read through its snapshot once frozen —
with the remuneration grid and the employer's participation of portal.rules. The rendering
itself (portal/documents/render.py) gets this as data and reads nothing else."""
from __future__ import annotations

import re
import unicodedata
from decimal import Decimal
from types import SimpleNamespace

from portal.documents import cerfa_layout
from portal.documents.render import render_pdf
from portal.dossiers import financing_inputs, snapshot
from portal.dossiers.establishments import is_public_employer
from portal.dossiers.tabs import dossier_data
from portal.dossiers.tabs.contract_tab import merge_rows, schedule_for
from portal.extensions import db
from portal.models import CodeReference
from portal.rules.aids import employer_participation


def code_labels() -> dict[tuple[str, str], str]:
    return {(liste, code): label for liste, code, label in db.session.query(
        CodeReference.liste, CodeReference.code, CodeReference.libelle)}


def context(dossier) -> dict:
    """Everything the templates print, computed once."""
    data = dossier_data(dossier)
    formation = snapshot.formation(dossier)
    cfa = snapshot.cfa(dossier)
    etab = snapshot.etablissement(dossier)
    convention = snapshot.convention(dossier)
    if convention is not None and not data.get("convention_libelle"):
        data["convention_libelle"] = convention.libelle
    rows = floored_rows(schedule_for(data), data.get("remuneration") or [])
    contrat = dossier.contrat
    conclusion = contrat.date_conclusion if contrat is not None else None
    level = formation.niveau if formation is not None else None
    participation = employer_participation(conclusion, level, dossier.dispositif) \
        if conclusion and level else Decimal("0")
    price = formation.prix if formation is not None else None
    # The quote shows the OPCO's expected coverage (NPEC of the reference table, prorated)
    # and what remains for the employer, as the OPCO follow-up will compute them.
    try:
        money = financing_inputs.inputs(dossier).financing()
    except ValueError:
        money = None
    masters = {m.rang: m for m in dossier.maitres}
    labels = code_labels()
    return dict(
        d=data, dossier=dossier, formation=formation, cfa=cfa, etab=etab, contrat=contrat,
        apprenti=dossier.apprenti, rep=dossier.representant_legal, m1=masters.get(1),
        m2=masters.get(2), rows=rows, participation=participation, price=price,
        opco=snapshot.opco(dossier),
        remainder=money.remainder if money else participation,
        opco_coverage=money.coverage if money else None,
        price_total=money.price_total if money else price,
        code_labels=labels, pro=dossier.dispositif == "professionnalisation",
        **cerfa_boxes(dossier, data, etab, cfa, rows, labels),
    )


def floored_rows(schedule, entered: list[dict]) -> list[dict]:
    """The grid's rows as printed: a stored rate or amount now below the legal minimum (the
    dates, the birth date or the SMIC changed since it was entered) prints the minimum and is
    flagged, so the printed contract is never below the law."""
    rows = merge_rows(schedule, entered)
    for row in rows:
        low = [value < minimum for value, minimum in (
            (row["percent"], row["minimum_percent"]),
            (row["monthly_amount"], row["minimum_amount"])) if value is not None]
        row["flagged"] = any(low)
        if row["flagged"]:
            row["percent"] = max(row["percent"] or 0, row["minimum_percent"])
            row["monthly_amount"] = max(row["monthly_amount"] or 0, row["minimum_amount"])
    return rows


def _reserved_box(dossier, opco) -> SimpleNamespace:
    """The CERFA's « cadre réservé à l'organisme en charge du dépôt »: the OPCO's name and, once
    it has the dossier, its number and dates (the prise en charge)."""
    pec = getattr(dossier, "prise_en_charge", None)
    contrat = dossier.contrat
    numero = (pec.numero_opco if pec is not None else None) or (
        contrat.numero_contrat if contrat is not None else None)
    nom = None
    if opco is not None:  # the name and, when it says something more, the OPCO's code
        same = opco.nom.replace(" ", "").lower() == opco.code.lower()
        nom = opco.nom if same else f"{opco.nom} ({opco.code})"
    return SimpleNamespace(nom=nom, numero=numero,
                           date_reception=pec.date_complet if pec is not None else None,
                           date_decision=pec.date_decision if pec is not None else None)


def cerfa_boxes(dossier, data: dict, etab, cfa, rows: list[dict], labels: dict) -> dict:
    """What the official form's boxes need beyond the tabs' values."""
    lieu = snapshot.lieu_formation(dossier)
    contrat = dossier.contrat
    type_employeur = data.get("type_employeur")
    public = (bool(etab.public) or is_public_employer(type_employeur)) if etab is not None \
        else (is_public_employer(type_employeur) if type_employeur else None)
    same_site = lieu is None or (cfa is not None and bool(lieu.uai) and lieu.uai == cfa.uai)
    return dict(
        employeur_public=public,
        mode_label=labels.get(("mode_contractuel", data.get("mode_contractuel")), ""),
        grid=cerfa_layout.years_grid(rows), flagged=any(r["flagged"] for r in rows),
        cfa_street=cerfa_layout.split_street(cfa.adresse if cfa is not None else None),
        lieu=None if same_site else lieu,
        lieu_street=cerfa_layout.split_street(None if same_site else lieu.adresse),
        lieu_is_cfa=same_site,
        cadre=_reserved_box(dossier, snapshot.opco(dossier)),
        adhesion_chomage=getattr(contrat, "adhesion_assurance_chomage", None) if public else None,
        cfa_entreprise=getattr(cfa, "cfa_entreprise", None),
        attestation_pieces=getattr(contrat, "attestation_pieces", None),
        # « Fait à … le … »: the date of signature is the date de conclusion.
        fait_a=getattr(contrat, "lieu_signature", None),
        fait_le=getattr(contrat, "date_conclusion", None),
    )


def render(kind: str, dossier) -> bytes:
    return render_pdf(kind, context(dossier))


def render_html(kind: str, dossier) -> str:
    from portal.documents.render import render_html as html
    return html(kind, context(dossier))


def filename(kind: str, dossier) -> str:
    name = unicodedata.normalize("NFKD", dossier.apprenti_nom or "dossier")
    name = re.sub(r"[^A-Za-z0-9]+", "-", name.encode("ascii", "ignore").decode()).strip("-")
    prefix = {"cerfa": "CERFA-EJ20" if dossier.dispositif == "professionnalisation"
              else "CERFA-FA13", "convention": "Convention", "devis": "Devis"}[kind]
    return f"{prefix}-dossier-{dossier.id}-{name.upper() or 'DOSSIER'}.pdf"

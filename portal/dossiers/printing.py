"""What a dossier's generated documents print (CERFA, convention, devis): the dossier as its
tabs show it — its establishment, employer and training read through its snapshot once frozen —
with the remuneration grid and the employer's participation of portal.rules. The rendering
itself (portal/documents/render.py) gets this as data and reads nothing else."""
from __future__ import annotations

import re
import unicodedata
from decimal import Decimal

from portal.documents.render import render_pdf
from portal.dossiers import financing_inputs, snapshot
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
    rows = merge_rows(schedule_for(data), data.get("remuneration") or [], floor=True)
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
    return dict(
        d=data, dossier=dossier, formation=formation, cfa=cfa, etab=etab, contrat=contrat,
        apprenti=dossier.apprenti, rep=dossier.representant_legal, m1=masters.get(1),
        m2=masters.get(2), rows=rows, participation=participation, price=price,
        opco=snapshot.opco(dossier),
        remainder=money.remainder if money else participation,
        opco_coverage=money.coverage if money else None,
        price_total=money.price_total if money else price,
        code_labels=code_labels(), pro=dossier.dispositif == "professionnalisation",
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

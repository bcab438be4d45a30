"""JSON look-ups behind the L'employeur tab's autofill (portal/static/js/employeur.js):

- GET /admin/dossier/lookup/idcc/?idcc=NNNN → the convention collective (label, branch, OPCO);
- GET /admin/dossier/lookup/siret/?siret=… → the establishment known to Sillon (public fields
  only) or, when unknown, the company directory's record (portal.services.company_directory).

Mixed into DossierView: Flask-Admin runs its access check (login, portal.policy.may_open) before
each route. Nothing here is trusted on save: the tab fills the same data server-side.
Every answer is JSON, including refusals, and hostile input gets a 400, never a 500.
"""
from __future__ import annotations

import logging
import re

from flask import jsonify, request
from flask_admin import expose

from portal.extensions import db
from portal.rules.identifiers import clean_digits, is_valid_siret, normalise_idcc, normalise_naf

log = logging.getLogger(__name__)

# Longest value worth reading from the query string (anything longer is malformed anyway).
_MAX_INPUT = 40

IDCC_MALFORMED = ("Le code IDCC doit comporter exactement 4 chiffres, zéros initiaux compris "
                  "(par exemple 0016).")
IDCC_UNKNOWN = ("Ce code IDCC est inconnu de la table des conventions collectives : "
                "vérifiez-le ou demandez à l'administrateur du CFA de l'ajouter.")
IDCC_NONE = {"9999": "Aucune convention collective ne s'applique",
             "9998": "Convention collective en cours de négociation"}
SIRET_INVALID = ("Ce numéro SIRET n'est pas valide : 14 chiffres dont le dernier est une clé "
                 "de contrôle.")
SIRET_UNKNOWN = ("Établissement inconnu de Sillon et de l'annuaire des entreprises : "
                 "saisissez ses informations.")


def _arg(name: str) -> str:
    return (request.args.get(name) or "")[:_MAX_INPUT]


def _message(text: str, status: int):
    return jsonify({"message": text}), status


def _text(value) -> str | None:
    """A directory value as plain text (None for anything empty or unexpected)."""
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        value = value[0] if value else None
        if value is None:
            return None
    value = str(value).strip()
    return value[:300] or None


def _etablissement_json(etab) -> dict:
    """What anyone may learn about an establishment from its SIRET, as the public company
    directory (Sirene) says it: never billing data, contact e-mail or phone."""
    return {
        "source": "sillon",
        "siret": etab.siret,
        "denomination": etab.denomination,
        "adresse_numero": etab.adresse_numero,
        "adresse_voie": etab.adresse_voie,
        "adresse_complement": etab.adresse_complement,
        "code_postal": etab.code_postal,
        "commune": etab.commune,
        "naf": etab.naf,
        "idcc": etab.idcc,
        "type_employeur": etab.type_employeur,
        "effectif": etab.effectif,
    }


def _directory_json(siret: str) -> dict | None:
    """The company directory's record of this SIRET, or None (unknown, disabled, unavailable
    or not installed)."""
    try:
        from portal.services.company_directory import lookup_from_config
    except ImportError:
        return None
    try:
        record = lookup_from_config(siret)
    except Exception:  # noqa: BLE001 - a directory failure means "type it by hand"
        log.warning("company directory lookup failed", exc_info=True)
        return None
    if record is None:
        return None
    idcc = normalise_idcc(_text(getattr(record, "idcc", None)))
    naf = _text(getattr(record, "naf", None))
    postal = _text(getattr(record, "code_postal", None))
    return {
        "source": "annuaire",
        "siret": siret,
        "denomination": _text(getattr(record, "denomination", None)),
        "adresse_numero": _text(getattr(record, "adresse_numero", None)),
        "adresse_voie": _text(getattr(record, "adresse_voie", None)),
        "code_postal": postal if postal and re.fullmatch(r"[0-9]{5}", postal) else None,
        "commune": _text(getattr(record, "commune", None)),
        "naf": normalise_naf(naf) if naf else None,
        "idcc": idcc if re.fullmatch(r"[0-9]{4}", idcc or "") else None,
        "effectif_tranche": _text(getattr(record, "effectif_tranche", None)),
        "public": bool(getattr(record, "public", False)),
    }


class DossierLookupsMixin:
    """Mixed into DossierView (endpoint "dossier"): /admin/dossier/lookup/…"""

    @expose("/lookup/idcc/", methods=("GET",))
    def lookup_idcc(self):
        from portal.models import ConventionCollective
        raw = re.sub(r"\s", "", _arg("idcc"))
        idcc = normalise_idcc(raw)
        if not re.fullmatch(r"[0-9]{4}", idcc):
            return _message(IDCC_MALFORMED, 400)
        convention = db.session.execute(
            db.select(ConventionCollective).where(ConventionCollective.idcc == idcc)
        ).scalars().first()
        if convention is None:
            if idcc in IDCC_NONE:
                return jsonify({"idcc": idcc, "libelle": IDCC_NONE[idcc], "branche": None,
                                "opco_code": None, "opco_nom": None})
            return _message(IDCC_UNKNOWN, 404)
        opco = convention.opco
        return jsonify({"idcc": convention.idcc, "libelle": convention.libelle,
                        "branche": convention.branche, "opco_code": convention.opco_code,
                        "opco_nom": opco.nom if opco is not None else None})

    @expose("/lookup/siret/", methods=("GET",))
    def lookup_siret(self):
        from portal.models import Etablissement
        siret = clean_digits(_arg("siret"))
        if not re.fullmatch(r"[0-9]{14}", siret) or not is_valid_siret(siret):
            return _message(SIRET_INVALID, 400)
        etab = db.session.execute(
            db.select(Etablissement).where(Etablissement.siret == siret)).scalars().first()
        if etab is not None:
            return jsonify(_etablissement_json(etab))
        record = _directory_json(siret)
        if record is not None:
            return jsonify(record)
        return _message(SIRET_UNKNOWN, 404)

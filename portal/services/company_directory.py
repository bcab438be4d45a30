"""Optional lookup of an establishment by SIRET in the public "API Recherche d'entreprises".

GET {base_url}/search?q=<siret>&page=1&per_page=1 (https://recherche-entreprises.api.gouv.fr,
no key). The answer is `{"results": [unité légale, ...], "total_results", "page", ...}`; each
unité légale carries `siren`, `nom_complet`, `nom_raison_sociale`, `activite_principale`,
`tranche_effectif_salarie` (INSEE code), `siege` (full établissement: `siret`, `adresse`,
`numero_voie`, `indice_repetition`, `type_voie`, `libelle_voie`, `code_postal`,
`libelle_commune`, `activite_principale`, `liste_idcc`, ...), `matching_etablissements`
(établissements matching the query; the API leaves out their street parts, so the street is
read from their one-line `adresse`) and `complements` (`est_service_public`,
`collectivite_territoriale`, ...).

Only the standard library is used. Any transport or format problem raises
DirectoryUnavailable: callers fall back to manual entry. `lookup_from_config` is the entry
point for views: off unless COMPANY_DIRECTORY_ENABLED, and it never raises.
"""
from __future__ import annotations

import http.client
import json
import logging
import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from portal.rules.identifiers import clean_digits, is_valid_siret, normalise_idcc, normalise_naf

log = logging.getLogger(__name__)

DEFAULT_URL = "https://recherche-entreprises.api.gouv.fr"
DEFAULT_TIMEOUT = 3.0
# One result of per_page=1 weighs a few kilobytes; anything far larger is not the API.
MAX_RESPONSE_BYTES = 2 * 1024 * 1024
USER_AGENT = "Sillon (portail des dossiers d'alternance)"

# INSEE "tranche d'effectif salarié" codes. "NN" (non-employing unit, or headcount unknown)
# and unknown codes give None.
EFFECTIF_TRANCHES = {
    "00": "0 salarié",
    "01": "1 ou 2 salariés",
    "02": "3 à 5 salariés",
    "03": "6 à 9 salariés",
    "11": "10 à 19 salariés",
    "12": "20 à 49 salariés",
    "21": "50 à 99 salariés",
    "22": "100 à 199 salariés",
    "31": "200 à 249 salariés",
    "32": "250 à 499 salariés",
    "41": "500 à 999 salariés",
    "42": "1 000 à 1 999 salariés",
    "51": "2 000 à 4 999 salariés",
    "52": "5 000 à 9 999 salariés",
    "53": "10 000 salariés et plus",
}

# Sirene street-type codes (typeVoieEtablissement) spelled out; other values are kept as
# they come (the directory already spells some of them out).
STREET_TYPES = {
    "ALL": "ALLEE", "AV": "AVENUE", "BD": "BOULEVARD", "CAR": "CARREFOUR", "CHE": "CHEMIN",
    "CHS": "CHAUSSEE", "CITE": "CITE", "COR": "CORNICHE", "CRS": "COURS", "DOM": "DOMAINE",
    "DSC": "DESCENTE", "ECA": "ECART", "ESP": "ESPLANADE", "FG": "FAUBOURG",
    "GR": "GRANDE RUE", "HAM": "HAMEAU", "HLE": "HALLE", "IMP": "IMPASSE", "LD": "LIEU-DIT",
    "LOT": "LOTISSEMENT", "MAR": "MARCHE", "MTE": "MONTEE", "PARC": "PARC", "PAS": "PASSAGE",
    "PL": "PLACE", "PLN": "PLAINE", "PLT": "PLATEAU", "PRO": "PROMENADE", "PRV": "PARVIS",
    "QUA": "QUARTIER", "QUAI": "QUAI", "RES": "RESIDENCE", "RLE": "RUELLE", "ROC": "ROCADE",
    "RPT": "ROND-POINT", "RTE": "ROUTE", "RUE": "RUE", "SEN": "SENTIER", "SQ": "SQUARE",
    "TPL": "TERRE-PLEIN", "TRA": "TRAVERSE", "VLA": "VILLA", "VLGE": "VILLAGE",
}

# "12", "12 B", "12 BIS", "10-12" at the start of a one-line address.
_STREET_NUMBER = re.compile(r"^(\d+(?:-\d+)?(?:\s*(?:BIS|TER|QUATER|QUINQUIES|[BTQC])\b)?)\s+(.+)$")
# "<street> <5-digit postal code> <commune>"; the commune may end with digits ("PARIS 7").
_POSTAL_TAIL = re.compile(r"^(?:(.*)\s)?(\d{5})\s+(\D.*)$")


class DirectoryUnavailable(Exception):
    """The directory could not be reached or gave an unusable answer."""


@dataclass
class CompanyRecord:
    siret: str
    siren: str
    denomination: str | None
    adresse_numero: str | None
    adresse_voie: str | None
    code_postal: str | None
    commune: str | None
    naf: str | None              # "NN.NNL"
    idcc: str | None             # 4 digits: the first valid code in liste_idcc
    effectif_tranche: str | None  # e.g. "20 à 49 salariés"
    public: bool


# --- HTTP ---------------------------------------------------------------------------------------

def _fetch_json(url: str, timeout: float) -> object:
    try:
        request = urllib.request.Request(url, headers={"Accept": "application/json",
                                                       "User-Agent": USER_AGENT})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read(MAX_RESPONSE_BYTES + 1)
    except urllib.error.HTTPError as exc:
        raise DirectoryUnavailable(
            f"L'annuaire des entreprises a répondu par une erreur HTTP {exc.code}.") from exc
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
        # URLError: refused, DNS; OSError: timeouts (TimeoutError), resets; ValueError: bad URL.
        raise DirectoryUnavailable(
            f"L'annuaire des entreprises est injoignable ({exc}).") from exc
    if len(body) > MAX_RESPONSE_BYTES:
        raise DirectoryUnavailable(
            "La réponse de l'annuaire des entreprises est trop volumineuse.")
    try:
        return json.loads(body)
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        raise DirectoryUnavailable(
            "La réponse de l'annuaire des entreprises n'est pas du JSON valide.") from exc


# --- parsing ------------------------------------------------------------------------------------

def _text(value: object) -> str | None:
    """A stripped non-empty string, or None."""
    if value is None or isinstance(value, (dict, list, bool)):
        return None
    value = str(value).strip()
    return value or None


def _dict(value: object) -> dict:
    return value if isinstance(value, dict) else {}


def _first_idcc(values: object) -> str | None:
    if not isinstance(values, list):
        return None
    for value in values:
        code = normalise_idcc(_text(value))
        if re.fullmatch(r"\d{4}", code):
            return code
    return None


def _street_from_line(line: str | None, code_postal: str | None,
                      commune: str | None) -> tuple[str | None, str | None, str | None, str | None]:
    """Split a one-line address "12 B RUE X 75001 PARIS 1" into
    (number, street, postal code, commune); the known postal code and commune win."""
    if not line:
        return None, None, code_postal, commune
    line = re.sub(r"\s+", " ", line).strip()
    head = line
    tail = f" {code_postal} {commune}" if code_postal and commune else None
    if tail and line.upper().endswith(tail.upper()):
        head = line[: -len(tail)].strip()
    else:
        match = _POSTAL_TAIL.match(line)
        if match:
            head = (match[1] or "").strip()
            code_postal = code_postal or match[2]
            commune = commune or match[3].strip()
    if not head:
        return None, None, code_postal, commune
    match = _STREET_NUMBER.match(head)
    if match:
        return match[1], match[2], code_postal, commune
    return None, head, code_postal, commune


def _address(etab: dict) -> tuple[str | None, str | None, str | None, str | None]:
    code_postal = _text(etab.get("code_postal"))
    commune = _text(etab.get("libelle_commune"))
    libelle_voie = _text(etab.get("libelle_voie"))
    if libelle_voie:  # structured fields (the siege has them)
        numero = " ".join(filter(None, (_text(etab.get("numero_voie")),
                                        _text(etab.get("indice_repetition"))))) or None
        type_voie = _text(etab.get("type_voie"))
        type_voie = STREET_TYPES.get(type_voie.upper(), type_voie) if type_voie else None
        voie = " ".join(filter(None, (type_voie, libelle_voie)))
        return numero, voie, code_postal, commune
    return _street_from_line(_text(etab.get("adresse")), code_postal, commune)


def _pick(payload: object, siret: str) -> tuple[dict, dict] | None:
    """(unité légale, établissement) whose SIRET is `siret`, or None."""
    if not isinstance(payload, dict) or not isinstance(payload.get("results"), list):
        raise DirectoryUnavailable("La réponse de l'annuaire des entreprises est inattendue.")
    for result in payload["results"]:
        if not isinstance(result, dict):
            continue
        matching = result.get("matching_etablissements")
        for etab in matching if isinstance(matching, list) else []:
            if isinstance(etab, dict) and clean_digits(_text(etab.get("siret"))) == siret:
                return result, etab
        siege = _dict(result.get("siege"))
        if clean_digits(_text(siege.get("siret"))) == siret:
            return result, siege
    return None


def _record(siret: str, result: dict, etab: dict) -> CompanyRecord:
    numero, voie, code_postal, commune = _address(etab)
    complements = _dict(result.get("complements"))
    tranche = _text(result.get("tranche_effectif_salarie")) \
        or _text(etab.get("tranche_effectif_salarie"))
    return CompanyRecord(
        siret=siret,
        siren=_text(result.get("siren")) or siret[:9],
        denomination=_text(result.get("nom_raison_sociale")) or _text(result.get("nom_complet")),
        adresse_numero=numero,
        adresse_voie=voie,
        code_postal=code_postal,
        commune=commune,
        naf=normalise_naf(_text(etab.get("activite_principale")))
        or normalise_naf(_text(result.get("activite_principale"))),
        idcc=_first_idcc(etab.get("liste_idcc")),
        effectif_tranche=EFFECTIF_TRANCHES.get(tranche) if tranche else None,
        public=bool(complements.get("est_service_public"))
        or bool(complements.get("collectivite_territoriale")),
    )


# --- public API ---------------------------------------------------------------------------------

def lookup_siret(siret: str, *, base_url: str, timeout: float) -> CompanyRecord | None:
    """The establishment `siret` as the directory knows it; None when the SIRET is invalid
    (no request made) or unknown. Raises DirectoryUnavailable on any network or format
    problem."""
    siret = clean_digits(siret)
    if not is_valid_siret(siret):
        return None
    query = urllib.parse.urlencode({"q": siret, "page": 1, "per_page": 1})
    payload = _fetch_json(f"{base_url.rstrip('/')}/search?{query}", timeout)
    picked = _pick(payload, siret)
    if picked is None:
        return None
    return _record(siret, *picked)


def lookup_from_config(siret: str) -> CompanyRecord | None:
    """lookup_siret with the current app's settings; None when the lookup is disabled,
    the SIRET unknown or the directory unavailable (a warning is logged)."""
    from flask import current_app

    config = current_app.config
    if not config.get("COMPANY_DIRECTORY_ENABLED", False):
        return None
    try:
        return lookup_siret(siret,
                            base_url=config.get("COMPANY_DIRECTORY_URL") or DEFAULT_URL,
                            timeout=float(config.get("COMPANY_DIRECTORY_TIMEOUT")
                                          or DEFAULT_TIMEOUT))
    except DirectoryUnavailable as exc:
        log.warning("Recherche du SIRET %s dans l'annuaire des entreprises impossible : %s",
                    clean_digits(siret), exc)
        return None

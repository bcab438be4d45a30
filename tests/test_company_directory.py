"""SIRET lookup in the "API Recherche d'entreprises", against a fake directory on 127.0.0.1.

The fake serves canned answers in the shape of https://recherche-entreprises.api.gouv.fr/search
and records every request, so the tests can prove when no request was made. Never the real API.
"""
import json
import logging
import socket
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from portal.config import load_config
from portal.services.company_directory import (CompanyRecord, DirectoryUnavailable,
                                               lookup_from_config, lookup_siret)

SIREN = "812345676"
SIRET_SIEGE = "81234567600017"
SIRET_LYON = "81234567600025"
SIRET_UNKNOWN = "81234567600033"     # valid checksum, absent from the directory
SIREN_PUBLIC = "217500016"
SIRET_PUBLIC = "21750001600019"

# One unité légale as the API returns it (fields trimmed to the realistic essentials).
COMPANY = {
    "siren": SIREN,
    "nom_complet": "ATELIER NUMERIQUE DU RHONE (ANR)",
    "nom_raison_sociale": "ATELIER NUMERIQUE DU RHONE",
    "sigle": "ANR",
    "nombre_etablissements": 3,
    "nombre_etablissements_ouverts": 2,
    "activite_principale": "62.01Z",
    "categorie_entreprise": "PME",
    "etat_administratif": "A",
    "nature_juridique": "5710",
    "section_activite_principale": "J",
    "tranche_effectif_salarie": "12",
    "annee_tranche_effectif_salarie": "2023",
    "statut_diffusion": "O",
    "siege": {
        "activite_principale": "62.01Z",
        "adresse": "20 B AV DE SEGUR 75007 PARIS 7",
        "code_postal": "75007",
        "commune": "75107",
        "complement_adresse": None,
        "departement": "75",
        "est_siege": True,
        "etat_administratif": "A",
        "indice_repetition": "B",
        "latitude": "48.850",
        "libelle_commune": "PARIS 7",
        "libelle_voie": "DE SEGUR",
        "liste_enseignes": None,
        "liste_idcc": ["1486", "2120"],
        "longitude": "2.309",
        "nom_commercial": None,
        "numero_voie": "20",
        "region": "11",
        "siret": SIRET_SIEGE,
        "tranche_effectif_salarie": "11",
        "type_voie": "AV",
    },
    "matching_etablissements": [
        {   # the API leaves the street parts out of matching_etablissements
            "activite_principale": "62.02A",
            "adresse": "12 BIS RUE DE LA REPUBLIQUE 69002 LYON",
            "code_postal": "69002",
            "commune": "69382",
            "est_siege": False,
            "etat_administratif": "A",
            "latitude": "45.762",
            "libelle_commune": "LYON",
            "liste_enseignes": ["ANR LYON"],
            "liste_idcc": ["1486"],
            "longitude": "4.835",
            "siret": SIRET_LYON,
        },
    ],
    "complements": {
        "collectivite_territoriale": None,
        "convention_collective_renseignee": True,
        "est_entrepreneur_individuel": False,
        "est_ess": False,
        "est_organisme_formation": False,
        "est_qualiopi": False,
        "est_service_public": False,
        "est_uai": False,
    },
}

PUBLIC_BODY = {
    "siren": SIREN_PUBLIC,
    "nom_complet": "COMMUNE DE SILLON-SUR-MER",
    "nom_raison_sociale": "COMMUNE DE SILLON-SUR-MER",
    "activite_principale": "84.11Z",
    "nature_juridique": "7210",
    "tranche_effectif_salarie": "NN",
    "siege": {
        "activite_principale": "8411Z",
        "adresse": "PLACE DE LA MAIRIE 29000 QUIMPER",
        "code_postal": "29000",
        "libelle_commune": "QUIMPER",
        "libelle_voie": None,
        "liste_idcc": None,
        "numero_voie": None,
        "siret": SIRET_PUBLIC,
        "type_voie": None,
    },
    "matching_etablissements": [],
    "complements": {
        "collectivite_territoriale": {"code": "29232", "code_insee": "29232",
                                      "elus": [], "niveau": "commune"},
        "est_service_public": True,
    },
}


def page(*results):
    return {"results": list(results), "total_results": len(results), "page": 1,
            "per_page": 1, "total_pages": 1 if results else 0}


class FakeDirectory:
    """A ThreadingHTTPServer on a random port of 127.0.0.1 answering /search."""

    def __init__(self):
        self.requests: list[str] = []
        self.answers: dict[str, dict] = {}     # q -> JSON payload
        self.status = 200
        self.raw_body: bytes | None = None      # served as is when set
        self.delay = 0.0
        self._stop = threading.Event()
        directory = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                directory.requests.append(self.path)
                if directory.delay:
                    directory._stop.wait(directory.delay)
                query = parse_qs(urlsplit(self.path).query)
                q = (query.get("q") or [""])[0]
                body = directory.raw_body
                if body is None:
                    body = json.dumps(directory.answers.get(q, page())).encode()
                try:
                    self.send_response(directory.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:  # the client gave up (timeout test)
                    pass

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def directory(monkeypatch):
    # A proxy configured in the environment must not capture requests to the fake.
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY",
                 "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    fake = FakeDirectory().start()
    fake.answers = {SIRET_SIEGE: page(COMPANY), SIRET_LYON: page(COMPANY),
                    SIRET_PUBLIC: page(PUBLIC_BODY)}
    yield fake
    fake.stop()


def lookup(directory, siret, timeout=2.0):
    return lookup_siret(siret, base_url=directory.url, timeout=timeout)


def closed_port_url():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


# --- found --------------------------------------------------------------------------------------

def test_found_head_office(directory):
    record = lookup(directory, SIRET_SIEGE)
    assert record == CompanyRecord(
        siret=SIRET_SIEGE, siren=SIREN, denomination="ATELIER NUMERIQUE DU RHONE",
        adresse_numero="20 B", adresse_voie="AVENUE DE SEGUR", code_postal="75007",
        commune="PARIS 7", naf="62.01Z", idcc="1486", effectif_tranche="20 à 49 salariés",
        public=False)
    assert directory.requests == [f"/search?q={SIRET_SIEGE}&page=1&per_page=1"]


def test_found_in_matching_etablissements(directory):
    record = lookup(directory, SIRET_LYON)
    assert record.siret == SIRET_LYON and record.siren == SIREN
    assert record.denomination == "ATELIER NUMERIQUE DU RHONE"
    assert (record.adresse_numero, record.adresse_voie) == ("12 BIS", "RUE DE LA REPUBLIQUE")
    assert (record.code_postal, record.commune) == ("69002", "LYON")
    assert record.naf == "62.02A"         # the establishment's activity, not the company's
    assert record.idcc == "1486"
    assert record.effectif_tranche == "20 à 49 salariés"
    assert record.public is False


def test_siret_typed_with_spaces_is_cleaned(directory):
    record = lookup(directory, "812 345 676 00017")
    assert record.siret == SIRET_SIEGE
    assert directory.requests == [f"/search?q={SIRET_SIEGE}&page=1&per_page=1"]


def test_public_employer_without_street(directory):
    record = lookup(directory, SIRET_PUBLIC)
    assert record.public is True
    assert record.adresse_numero is None
    assert record.adresse_voie == "PLACE DE LA MAIRIE"
    assert (record.code_postal, record.commune) == ("29000", "QUIMPER")
    assert record.naf == "84.11Z"
    assert record.idcc is None
    assert record.effectif_tranche is None  # "NN": non-employing or unknown


def test_address_parsed_from_line_when_fields_missing(directory):
    etab = {"siret": SIRET_LYON, "adresse": "3 T QUAI PIERRE SCIZE 69005 LYON 5",
            "activite_principale": "6202A", "liste_idcc": ["16", "bad"]}
    directory.answers[SIRET_LYON] = page(dict(COMPANY, matching_etablissements=[etab],
                                              tranche_effectif_salarie=None))
    record = lookup(directory, SIRET_LYON)
    assert (record.adresse_numero, record.adresse_voie) == ("3 T", "QUAI PIERRE SCIZE")
    assert (record.code_postal, record.commune) == ("69005", "LYON 5")
    assert record.naf == "62.02A"
    assert record.idcc == "0016"
    assert record.effectif_tranche is None


# --- not found ----------------------------------------------------------------------------------

def test_not_found_empty_results(directory):
    assert lookup(directory, SIRET_UNKNOWN) is None
    assert len(directory.requests) == 1


def test_not_found_when_no_establishment_has_the_siret(directory):
    # The company is returned (same SIREN) but neither its siege nor a matching
    # establishment carries the SIRET asked for.
    directory.answers[SIRET_UNKNOWN] = page(COMPANY)
    assert lookup(directory, SIRET_UNKNOWN) is None


@pytest.mark.parametrize("siret", ["12345678901234", "8123456760001", "", "abcdefghijklmn",
                                   "81234567600018"])
def test_invalid_siret_makes_no_request(directory, siret):
    assert lookup(directory, siret) is None
    assert directory.requests == []


# --- directory unavailable ----------------------------------------------------------------------

def test_server_error_raises(directory):
    directory.status = 500
    directory.raw_body = b'{"erreur": "Erreur interne"}'
    with pytest.raises(DirectoryUnavailable, match="HTTP 500"):
        lookup(directory, SIRET_SIEGE)
    assert len(directory.requests) == 1


def test_rate_limited_raises(directory):
    directory.status = 429
    with pytest.raises(DirectoryUnavailable, match="HTTP 429"):
        lookup(directory, SIRET_SIEGE)


@pytest.mark.parametrize("body", [b"<html>Bad gateway</html>", b'{"results": [', b"",
                                  b"\xff\xfe\x00", b'{"total_results": 0}', b"[]",
                                  b'{"results": "none"}'])
def test_malformed_json_raises(directory, body):
    directory.raw_body = body
    with pytest.raises(DirectoryUnavailable):
        lookup(directory, SIRET_SIEGE)


def test_slow_server_times_out_quickly(directory):
    directory.delay = 5.0
    started = time.monotonic()
    with pytest.raises(DirectoryUnavailable):
        lookup(directory, SIRET_SIEGE, timeout=0.3)
    assert time.monotonic() - started < 2.0
    assert len(directory.requests) == 1


def test_server_not_listening_raises():
    started = time.monotonic()
    with pytest.raises(DirectoryUnavailable, match="injoignable"):
        lookup_siret(SIRET_SIEGE, base_url=closed_port_url(), timeout=0.3)
    assert time.monotonic() - started < 2.0


def test_bad_base_url_raises():
    with pytest.raises(DirectoryUnavailable):
        lookup_siret(SIRET_SIEGE, base_url="pas-une-url", timeout=0.3)


# --- configuration ------------------------------------------------------------------------------

@contextmanager
def app_config(app, **values):
    """Set app.config values for the block, then put the previous ones back."""
    missing = object()
    saved = {key: app.config.get(key, missing) for key in values}
    app.config.update(values)
    try:
        with app.app_context():
            yield
    finally:
        for key, value in saved.items():
            if value is missing:
                app.config.pop(key, None)
            else:
                app.config[key] = value


def test_disabled_by_default_in_config(app):
    assert app.config["COMPANY_DIRECTORY_ENABLED"] is False
    assert app.config["COMPANY_DIRECTORY_URL"] == "https://recherche-entreprises.api.gouv.fr"
    assert app.config["COMPANY_DIRECTORY_TIMEOUT"] == 3.0


def test_disabled_makes_no_request(app, directory):
    with app_config(app, COMPANY_DIRECTORY_ENABLED=False, COMPANY_DIRECTORY_URL=directory.url,
                    COMPANY_DIRECTORY_TIMEOUT=2.0):
        assert lookup_from_config(SIRET_SIEGE) is None
    assert directory.requests == []


def test_enabled_via_config(app, directory):
    before = dict(app.config)
    with app_config(app, COMPANY_DIRECTORY_ENABLED=True, COMPANY_DIRECTORY_URL=directory.url,
                    COMPANY_DIRECTORY_TIMEOUT=2.0):
        record = lookup_from_config(SIRET_LYON)
    assert record is not None and record.siret == SIRET_LYON and record.idcc == "1486"
    assert len(directory.requests) == 1
    assert dict(app.config) == before


def test_enabled_but_unavailable_returns_none_and_warns(app, directory, caplog, monkeypatch):
    # The app fixture runs the Alembic upgrade in-process, and migrations/env.py's
    # fileConfig() disables the loggers that existed before it: switch ours back on.
    monkeypatch.setattr(logging.getLogger("portal.services.company_directory"), "disabled", False)
    directory.status = 503
    with app_config(app, COMPANY_DIRECTORY_ENABLED=True, COMPANY_DIRECTORY_URL=directory.url,
                    COMPANY_DIRECTORY_TIMEOUT=2.0):
        with caplog.at_level(logging.WARNING, logger="portal.services.company_directory"):
            assert lookup_from_config(SIRET_SIEGE) is None
    assert any(r.levelno == logging.WARNING and SIRET_SIEGE in r.getMessage()
               and "HTTP 503" in r.getMessage() for r in caplog.records)


def test_enabled_but_slow_returns_none_quickly(app, directory):
    directory.delay = 5.0
    started = time.monotonic()
    with app_config(app, COMPANY_DIRECTORY_ENABLED=True, COMPANY_DIRECTORY_URL=directory.url,
                    COMPANY_DIRECTORY_TIMEOUT=0.3):
        assert lookup_from_config(SIRET_SIEGE) is None
    assert time.monotonic() - started < 2.0


def test_enabled_not_listening_returns_none(app):
    with app_config(app, COMPANY_DIRECTORY_ENABLED=True, COMPANY_DIRECTORY_URL=closed_port_url(),
                    COMPANY_DIRECTORY_TIMEOUT=0.3):
        assert lookup_from_config(SIRET_SIEGE) is None


def test_settings_read_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("SECRET_KEY", "test")
    monkeypatch.setenv("COMPANY_DIRECTORY_ENABLED", "true")
    monkeypatch.setenv("COMPANY_DIRECTORY_URL", "http://annuaire.interne")
    monkeypatch.setenv("COMPANY_DIRECTORY_TIMEOUT", "1.5")
    cfg = load_config(str(tmp_path))
    assert cfg["COMPANY_DIRECTORY_ENABLED"] is True
    assert cfg["COMPANY_DIRECTORY_URL"] == "http://annuaire.interne"
    assert cfg["COMPANY_DIRECTORY_TIMEOUT"] == 1.5
    for name in ("COMPANY_DIRECTORY_ENABLED", "COMPANY_DIRECTORY_URL",
                 "COMPANY_DIRECTORY_TIMEOUT"):
        monkeypatch.delenv(name)
    cfg = load_config(str(tmp_path))
    assert cfg["COMPANY_DIRECTORY_ENABLED"] is False
    assert cfg["COMPANY_DIRECTORY_URL"] == "https://recherche-entreprises.api.gouv.fr"
    assert cfg["COMPANY_DIRECTORY_TIMEOUT"] == 3.0

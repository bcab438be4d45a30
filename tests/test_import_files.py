"""Import files Sillon cannot read, and the template's sample row (issue 15, item 5), through
the import page on the real database: an unreadable file is named as such (not as a table
whose columns are missing), the sample row is skipped by its content, a body above the
server's limit comes back to the import page with the French message. Nothing is kept."""
from __future__ import annotations

import io
import re
import zipfile

import pytest

from tests.test_import import (DOMAIN, HEADER, _count, _csv, _dossiers, _preview, _unescape,
                               _upload, _valid_row, training)  # noqa: F401

UNREADABLE = "n'est pas un classeur Excel (.xlsx) ni un fichier CSV lisible"


def _refusal(client, training, data, name):  # noqa: F811
    response = _upload(client, training, data, name)
    assert response.status_code == 302, name
    assert response.headers["Location"].endswith(f"/admin/formation/{training['id']}/import/")
    page = _unescape(client.get(response.headers["Location"]).get_data(as_text=True))
    match = re.search(r'<div class="alert alert-danger[^>]*>\s*<button[^>]*>[^<]*</button>'
                      r'\s*(.*?)\s*</div>', page, re.S)
    assert match, (name, page[-2000:])
    return match.group(1)


def _broken_xlsx() -> bytes:
    """A real workbook whose sheet is cut in the middle (damaged)."""
    from openpyxl import Workbook
    book = Workbook()
    book.active.append(HEADER)
    out = io.BytesIO()
    book.save(out)
    source = zipfile.ZipFile(io.BytesIO(out.getvalue()))
    damaged = io.BytesIO()
    with zipfile.ZipFile(damaged, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data[: len(data) // 2]
            target.writestr(item, data)
    return damaged.getvalue()


CASES = [  # file name, content, words of the reason
    ("liste.txt", "Nom\tPrénom\tE-mail\r\nMartin\tLéa\tlea@exemple.fr\r\n".encode(),
     "seuls les fichiers .csv et .xlsx sont lus (extension .txt)"),
    ("notes.csv", "Bonjour\r\nVoici la liste des alternants\r\n".encode(),
     "sa première ligne ne contient ni colonnes séparées ni en-têtes du modèle"),
    ("classeur.xlsx", b"PK\x03\x04" + b"\x00" * 300, "ce classeur est endommagé"),
    ("coupe.xlsx", _broken_xlsx(), "ce classeur est endommagé"),
    ("faux.xlsx", "Nom;Prénom;E-mail\r\n".encode(), "il porte l'extension .xlsx"),
    ("accents.csv", "Nom;Prénom;E-mail\r\n".encode() + b"\x81\x8d;\x90;\x9d\r\n",
     "ses caractères ne peuvent pas être lus (encodage inconnu)"),
    ("photo.csv", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8,
     "son contenu n'est pas un tableau"),
]


@pytest.mark.parametrize("name,data,reason", CASES, ids=[c[0] for c in CASES])
def test_an_unreadable_file_is_named_as_such(app, login, training, name, data,
                                             reason):  # noqa: F811
    from portal.models import ImportBatch
    client = login(f"resp.info@{DOMAIN}")
    message = _refusal(client, training, data, name)
    assert message.startswith(f"Le fichier « {name} » {UNREADABLE} : {reason}"), message
    assert "Colonne" not in message
    assert _count(app, ImportBatch, ImportBatch.formation_id == training["id"]) == 0


def test_a_table_with_wrong_headers_still_says_which_columns(app, login, training):  # noqa: F811
    client = login(f"resp.info@{DOMAIN}")
    message = _refusal(client, training, "Name;Surname;Mail\r\na;b;c\r\n".encode(), "liste.csv")
    assert message.startswith("Colonnes obligatoires absentes"), message


def test_the_sample_row_is_never_imported(app, login, training):  # noqa: F811
    """Skipped by its content: the marker in its cell (whatever the other cells hold), or
    the example's e-mail of an older template without the marker."""
    from portal.dossiers.import_files import SAMPLE_MARKER
    from portal.rules.imports import EXAMPLE, KEYS
    client = login(f"resp.info@{DOMAIN}")
    example = [EXAMPLE[k] for k in KEYS]
    marked = _valid_row(training, 7) + [SAMPLE_MARKER.upper()]  # real-looking, but marked
    rows = [example, marked, _valid_row(training, 1)]
    url, page = _preview(client, training, _csv(rows), "liste.csv")
    text = _unescape(page)
    assert "Lignes 2, 3 : ligne d'exemple du modèle, ignorée" in text
    assert "Confirmer l'import de 1 dossier" in text
    assert 'data-line="2"' not in page and 'data-line="3"' not in page
    from tests.test_import import _confirm
    assert _confirm(client, url, page).status_code == 302
    emails = [d.apprenti_email for d in _dossiers(app, training)]
    assert emails == [_valid_row(training, 1)[2]]


def test_a_20_mb_import_comes_back_to_the_import_page(app, login, training):  # noqa: F811
    from portal.models import ImportBatch
    client = login(f"resp.info@{DOMAIN}")
    data = _csv([]) + b"x" * (20 * 1024 * 1024)
    assert len(data) > app.config["MAX_CONTENT_LENGTH"]
    message = _refusal(client, training, data, "gros.csv")
    assert message.startswith("Le fichier pèse 20,1 Mo : il dépasse la taille maximale de "
                              "5 Mo. Rien n'a été importé"), message
    assert _count(app, ImportBatch, ImportBatch.formation_id == training["id"]) == 0


def test_the_import_field_carries_its_limit(app, login, training):  # noqa: F811
    from portal.dossiers.import_files import MAX_BYTES
    page = login(f"resp.info@{DOMAIN}").get(
        f"/admin/formation/{training['id']}/import/").get_data(as_text=True)
    field = re.search(r'<input type="file" name="fichier" id="fichier"[^>]*>', page).group(0)
    assert f'data-max-size="{MAX_BYTES}"' in field
    assert "il dépasse la taille maximale de 5 Mo" in _unescape(field)
    assert "/static/js/uploads.js" in page

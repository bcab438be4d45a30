"""The sealed signed PDF (issue 17): the signature page, the PAdES seal by the CFA's
certificate and its check, and where that certificate comes from.

Real PDFs (read back with pypdf, and with poppler's pdfsig when installed), real keys and
certificates (cryptography), real pyHanko signatures and validation."""
import io
import multiprocessing
import os
import re
import shutil
import stat
import subprocess
from datetime import datetime, timedelta, timezone

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from pypdf import PdfReader

from portal.signatures import certificate
from portal.signatures.certificate import SealingIdentity, sealing_identity
from portal.signatures.seal import SignerLine, check, seal, sha256_hex, signature_page_pdf

METHOD = ("Signature électronique simple : lien personnel et code à usage unique envoyé par "
          "e-mail")
# 22:30 UTC on 1 July is 00:30 the next day in Paris (CEST, +2); 09:05 UTC on 15 January is
# 10:05 (CET, +1).
SIGNERS = [
    SignerLine("Claire Martin", "Employeur (signataire)", "claire.martin@acme.fr",
               datetime(2027, 7, 1, 22, 30), METHOD, "203.0.113.7"),
    SignerLine("Anaïs Lefèvre-D'Almeida", "Alternant·e", "anais.lefevre@exemple.fr",
               datetime(2027, 1, 15, 9, 5), METHOD),
    SignerLine("Joëlle Garçon", "CFA (visa)", "visa@cfa-metiers.fr",
               datetime(2027, 7, 2, 6, 0), METHOD),
]
SIGNER_TIMES = ["02/07/2027 à 00:30", "15/01/2027 à 10:05", "02/07/2027 à 08:00"]
CFA = "CFA des Métiers de l'Artisanat"
FIELD = "CachetSillon"


def _flat(text: str) -> str:
    return " ".join(text.split())


def _source_pdf(pages: int = 3) -> bytes:
    """A real multi-page PDF with uncompressed content streams (to tamper with a byte)."""
    from reportlab.pdfgen.canvas import Canvas
    out = io.BytesIO()
    canvas = Canvas(out, pageCompression=0)
    for number in range(1, pages + 1):
        canvas.drawString(72, 760, f"Page {number} du contrat")
        canvas.showPage()
    canvas.save()
    return out.getvalue()


def _page(app, source: bytes, signers=SIGNERS, **overrides) -> bytes:
    args = dict(title="Convention de formation", dossier_number=4217,
                apprentice="Anaïs Lefèvre-D'Almeida", source_sha256=sha256_hex(source),
                signers=signers, sealed_at=datetime(2027, 7, 2, 6, 1), cfa_name=CFA)
    args.update(overrides)
    with app.app_context():
        return signature_page_pdf(**args)


def _self_signed_pems(common_name: str, password: bytes | None = None,
                      key_usage: bool = True) -> tuple[bytes, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.now(timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - timedelta(hours=1))
               .not_valid_after(now + timedelta(days=30)))
    if key_usage:
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
            encipher_only=False, decipher_only=False), critical=True)
    cert = builder.sign(key, hashes.SHA256())
    encryption = serialization.BestAvailableEncryption(password) if password \
        else serialization.NoEncryption()
    return (cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              encryption))


def _identity(common_name: str) -> SealingIdentity:
    cert_pem, key_pem = _self_signed_pems(common_name)
    return SealingIdentity(cert_pem=cert_pem, key_pem=key_pem, password=None,
                           common_name=common_name, generated=False)


@pytest.fixture(scope="module")
def demo_identity(app, tmp_path_factory):
    """The generated demonstration identity, in an instance folder of its own."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(app, "instance_path", str(tmp_path_factory.mktemp("instance-seal")))
        mp.setitem(app.config, "SIGNATURE_CERT", None)
        mp.setitem(app.config, "SIGNATURE_KEY", None)
        certificate.clear_cache()
        identity = sealing_identity(app)
    certificate.clear_cache()
    return identity


@pytest.fixture(scope="module")
def source():
    return _source_pdf(3)


@pytest.fixture(scope="module")
def sealed(app, source, demo_identity):
    return seal(source, _page(app, source), demo_identity, reason="Signature du dossier n° 4217")


@pytest.fixture()
def bare_config(app, monkeypatch, tmp_path):
    """No sealing certificate configured, an empty instance folder, an empty cache."""
    monkeypatch.setattr(app, "instance_path", str(tmp_path / "instance"))
    for name in ("SIGNATURE_CERT", "SIGNATURE_KEY", "SIGNATURE_KEY_PASSWORD"):
        monkeypatch.setitem(app.config, name, None)
    certificate.clear_cache()
    yield app
    certificate.clear_cache()


# --- the signature page -------------------------------------------------------------------------

def test_signature_page_shows_document_fingerprint_and_each_signer(app, source):
    reader = PdfReader(io.BytesIO(_page(app, source)))
    text = _flat("\n".join(page.extract_text() for page in reader.pages))
    assert "PAGE DE SIGNATURE" in text
    assert "Convention de formation" in text
    assert "dossier n° 4217" in text
    assert "Alternant·e Anaïs Lefèvre-D'Almeida" in text
    assert sha256_hex(source) in text
    for signer, when in zip(SIGNERS, SIGNER_TIMES):
        assert f"{signer.name} – {signer.role_label}" in text
        assert signer.email in text
        assert f"Signé le {when} (heure de Paris)" in text
    assert "01/07/2027 à 22:30" not in text  # UTC is never printed
    assert text.count(METHOD) == 3
    assert "Adresse IP 203.0.113.7" in text and text.count("Adresse IP") == 1
    assert f"scellé le 02/07/2027 à 08:01 (heure de Paris) par le certificat de cachet de {CFA}" \
        in text
    assert "articles 1366 et 1367 du Code civil" in text and "eIDAS" in text
    for page in reader.pages:
        assert (round(page.mediabox.width), round(page.mediabox.height)) == (595, 842)  # A4


def test_many_signers_flow_onto_further_a4_pages(app, source):
    signers = [SignerLine(f"Signataire Numéro{n}", "Représentant·e légal·e",
                          f"s{n}@exemple.fr", datetime(2027, 3, 1, 8, n), METHOD, f"10.0.0.{n}")
               for n in range(14)]
    reader = PdfReader(io.BytesIO(_page(app, source, signers=signers)))
    assert len(reader.pages) >= 2
    text = _flat("\n".join(page.extract_text() for page in reader.pages))
    for n in range(14):
        assert f"Signataire Numéro{n} – Représentant·e légal·e" in text
        assert f"01/03/2027 à 09:{n:02d}" in text


@pytest.mark.skipif(not shutil.which("pdffonts"), reason="poppler-utils not installed")
def test_signature_page_embeds_every_font(app, source, tmp_path):
    path = tmp_path / "page.pdf"
    path.write_bytes(_page(app, source))
    rows = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True,
                          check=True).stdout.splitlines()[2:]
    assert rows and all(row.split()[-5] == "yes" for row in rows), rows


# --- sealing and checking -----------------------------------------------------------------------

def _signature_dict(pdf: bytes):
    return PdfReader(io.BytesIO(pdf)).get_fields()[FIELD]["/V"]


def test_sealed_pdf_is_intact_valid_trusted_and_covers_the_whole_file(sealed, demo_identity):
    result = check(sealed, demo_identity)
    assert result.intact and result.valid and result.trusted and result.covers_whole_file
    assert result.ok
    assert result.signer == "Sillon – cachet du CFA (démonstration)" == demo_identity.common_name
    assert abs(result.signed_at - datetime.now(timezone.utc).replace(tzinfo=None)) \
        < timedelta(minutes=10)


def test_sealed_pdf_has_the_original_pages_then_the_signature_page(sealed):
    pages = PdfReader(io.BytesIO(sealed)).pages
    assert len(pages) == 4
    for number in (1, 2, 3):
        assert pages[number - 1].extract_text().strip() == f"Page {number} du contrat"
    assert "PAGE DE SIGNATURE" in pages[3].extract_text()


def test_seal_is_pades_sha256_with_reason_location_and_name(sealed, demo_identity):
    from asn1crypto import cms
    sig = _signature_dict(sealed)
    assert sig["/SubFilter"] == "/ETSI.CAdES.detached"
    assert sig["/Reason"] == "Signature du dossier n° 4217"
    assert sig["/Location"] == "France"
    assert sig["/Name"] == demo_identity.common_name
    signed_data = cms.ContentInfo.load(bytes(sig["/Contents"]).rstrip(b"\0"))["content"]
    assert signed_data["digest_algorithms"][0]["algorithm"].native == "sha256"


@pytest.mark.skipif(not shutil.which("pdfsig"), reason="poppler-utils not installed")
def test_another_pdf_reader_sees_the_seal_valid_over_the_whole_document(sealed, tmp_path):
    path = tmp_path / "sealed.pdf"
    path.write_bytes(sealed)
    out = subprocess.run(["pdfsig", str(path)], capture_output=True, text=True).stdout
    assert f"Signature Field Name: {FIELD}" in out
    assert "Signature Type: ETSI.CAdES.detached" in out
    assert "Total document signed" in out
    assert "Signature Validation: Signature is Valid." in out


def test_one_byte_changed_in_a_page_is_detected(sealed, demo_identity):
    offset = sealed.index(b"(Page 2 du contrat) Tj") + len(b"(Page ")
    start1, len1, start2, len2 = (int(v) for v in _signature_dict(sealed)["/ByteRange"])
    assert start1 <= offset < start1 + len1  # signed bytes, not the signature's /Contents
    tampered = sealed[:offset] + b"7" + sealed[offset + 1:]
    assert "Page 7 du contrat" in PdfReader(io.BytesIO(tampered)).pages[1].extract_text()
    result = check(tampered, demo_identity)
    assert not result.intact  # the document digest no longer matches (the CMS itself does)
    assert not result.ok


def test_one_byte_changed_in_the_signature_value_is_detected(sealed, demo_identity):
    """The CMS still parses, the document digest still matches: the RSA signature fails."""
    from asn1crypto import cms
    blob = bytes(_signature_dict(sealed)["/Contents"]).rstrip(b"\0")
    value = cms.ContentInfo.load(blob)["content"]["signer_infos"][0]["signature"].native
    offset = sealed.lower().index(value.hex().encode()) + 100  # a hex digit of that value
    flipped = b"0" if sealed[offset:offset + 1] != b"0" else b"1"
    result = check(sealed[:offset] + flipped + sealed[offset + 1:], demo_identity)
    assert result.intact and not result.valid and not result.ok


def test_garbage_in_the_signature_container_is_detected(sealed, demo_identity):
    start1, len1, start2, len2 = (int(v) for v in _signature_dict(sealed)["/ByteRange"])
    middle = start1 + len1 + 1 + 40  # near the start of the CMS blob: its structure breaks
    flipped = b"f" if sealed[middle:middle + 1] != b"f" else b"e"
    result = check(sealed[:middle] + flipped + sealed[middle + 1:], demo_identity)
    assert not result.valid and not result.ok


@pytest.mark.parametrize("damage", ["empty", "garbage", "truncated", "unsealed"])
def test_unreadable_or_unsealed_files_are_all_false_and_never_raise(damage, sealed, source,
                                                                    demo_identity):
    pdf = {"empty": b"", "garbage": b"%PDF-1.7\n\x00\xffnot a pdf at all",
           "truncated": sealed[:len(sealed) // 2], "unsealed": source}[damage]
    result = check(pdf, demo_identity)
    assert (result.intact, result.valid, result.trusted, result.covers_whole_file,
            result.signer, result.signed_at) == (False, False, False, False, "", None)
    assert not result.ok


def test_another_certificate_is_valid_but_not_trusted(app, sealed, source, demo_identity):
    other = _identity("Autre cachet")
    result = check(sealed, other)
    assert result.intact and result.valid and not result.trusted and not result.ok
    assert result.signer == demo_identity.common_name
    by_other = check(seal(source, _page(app, source), other, reason="essai"), demo_identity)
    assert by_other.valid and not by_other.trusted and by_other.signer == "Autre cachet"


def test_an_update_appended_after_sealing_no_longer_covers_the_whole_file(sealed,
                                                                           demo_identity):
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    writer = IncrementalPdfFileWriter(io.BytesIO(sealed))
    page_ref = writer.find_page_for_modification(0)[0]
    note = writer.add_object(generic.DictionaryObject({
        generic.NameObject("/Type"): generic.NameObject("/Annot"),
        generic.NameObject("/Subtype"): generic.NameObject("/Text"),
        generic.NameObject("/Rect"): generic.ArrayObject(
            [generic.FloatObject(v) for v in (72, 700, 92, 720)]),
        generic.NameObject("/Contents"): generic.TextStringObject("Ajout après le cachet")}))
    writer.register_annotation(page_ref, note)
    out = io.BytesIO()
    writer.write(out)
    result = check(out.getvalue(), demo_identity)
    assert result.intact and result.valid and result.trusted
    assert not result.covers_whole_file and not result.ok


# --- the sealing identity -----------------------------------------------------------------------

def test_demo_identity_is_generated_once_then_reused(bare_config, monkeypatch):
    app = bare_config
    monkeypatch.setitem(app.config, "CFA_NAME", CFA)
    folder = os.path.join(app.instance_path, "signature")
    first = sealing_identity(app)
    assert first.generated and first.password is None
    assert first.common_name == "Sillon – cachet du CFA (démonstration)"
    assert sealing_identity(app) is first  # cached
    with open(os.path.join(folder, "cert.pem"), "rb") as f:
        assert f.read() == first.cert_pem
    assert stat.S_IMODE(os.stat(os.path.join(folder, "key.pem")).st_mode) == 0o600
    assert sorted(n for n in os.listdir(folder) if not n.startswith(".lock")) \
        == ["cert.pem", "key.pem"]  # no temporary file left behind
    certificate.clear_cache()
    again = sealing_identity(app)
    assert again is not first
    assert (again.cert_pem, again.key_pem) == (first.cert_pem, first.key_pem)


def test_demo_certificate_names_the_cfa_for_five_years_with_signing_key_usages(bare_config,
                                                                               monkeypatch):
    monkeypatch.setitem(bare_config.config, "CFA_NAME", CFA)
    cert = x509.load_pem_x509_certificate(sealing_identity(bare_config).cert_pem)
    org = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value
    assert org == CFA
    assert cert.public_key().key_size == 2048
    years = (cert.not_valid_after_utc - cert.not_valid_before_utc).days / 365.25
    assert 4.9 < years < 5.1
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.content_commitment and not usage.key_cert_sign


def _generate_in(folder, barrier, results):
    barrier.wait()
    results.put(certificate.generated_pems(folder, "CFA Sillon"))


def test_two_workers_starting_together_generate_one_identity(tmp_path):
    """Two gunicorn workers at start-up: one generates, the other waits and reads it."""
    from pathlib import Path
    context = multiprocessing.get_context("fork")
    barrier, results = context.Barrier(2), context.Queue()
    folder = Path(tmp_path / "signature")
    workers = [context.Process(target=_generate_in, args=(folder, barrier, results))
               for _ in range(2)]
    for worker in workers:
        worker.start()
    pems = [results.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    assert pems[0] == pems[1]
    cert = x509.load_pem_x509_certificate((folder / "cert.pem").read_bytes())
    key = serialization.load_pem_private_key((folder / "key.pem").read_bytes(), None)
    assert cert.public_key() == key.public_key()  # never one worker's key with the other's cert


def test_configured_certificate_and_key_are_used(bare_config, monkeypatch, tmp_path, source):
    app = bare_config
    cert_pem, key_pem = _self_signed_pems("CFA des Métiers – cachet", password=b"s3cret")
    (tmp_path / "cfa.crt").write_bytes(cert_pem)
    (tmp_path / "cfa.key").write_bytes(key_pem)
    monkeypatch.setitem(app.config, "SIGNATURE_CERT", str(tmp_path / "cfa.crt"))
    monkeypatch.setitem(app.config, "SIGNATURE_KEY", str(tmp_path / "cfa.key"))
    monkeypatch.setitem(app.config, "SIGNATURE_KEY_PASSWORD", "s3cret")
    identity = sealing_identity(app)
    assert not identity.generated
    assert identity.cert_pem == cert_pem and identity.password == b"s3cret"
    assert identity.common_name == "CFA des Métiers – cachet"
    assert not os.path.exists(os.path.join(app.instance_path, "signature"))
    result = check(seal(source, _page(app, source), identity, reason="essai"), identity)
    assert result.valid and result.trusted and result.covers_whole_file
    assert result.signer == "CFA des Métiers – cachet"


@pytest.mark.parametrize("missing", ["SIGNATURE_CERT", "SIGNATURE_KEY"])
def test_only_one_of_certificate_and_key_configured_is_refused(bare_config, monkeypatch,
                                                               tmp_path, missing):
    cert_pem, key_pem = _self_signed_pems("Cachet")
    (tmp_path / "c.pem").write_bytes(cert_pem)
    (tmp_path / "k.pem").write_bytes(key_pem)
    paths = {"SIGNATURE_CERT": str(tmp_path / "c.pem"), "SIGNATURE_KEY": str(tmp_path / "k.pem")}
    paths[missing] = None
    for name, value in paths.items():
        monkeypatch.setitem(bare_config.config, name, value)
    with pytest.raises(RuntimeError, match=f"{missing} is missing"):
        sealing_identity(bare_config)
    assert not os.path.exists(os.path.join(bare_config.instance_path, "signature"))


def test_a_key_that_does_not_match_the_certificate_is_refused(bare_config, monkeypatch,
                                                              tmp_path):
    cert_pem, _ = _self_signed_pems("Cachet")
    _, other_key = _self_signed_pems("Autre")
    (tmp_path / "c.pem").write_bytes(cert_pem)
    (tmp_path / "k.pem").write_bytes(other_key)
    monkeypatch.setitem(bare_config.config, "SIGNATURE_CERT", str(tmp_path / "c.pem"))
    monkeypatch.setitem(bare_config.config, "SIGNATURE_KEY", str(tmp_path / "k.pem"))
    with pytest.raises(RuntimeError, match=re.escape("does not match the certificate")):
        sealing_identity(bare_config)


def test_sealing_and_checking_work_inside_a_running_event_loop(app, source, demo_identity):
    """pyHanko's synchronous API runs asyncio.run(): from a thread that already runs an event
    loop (an async server, Playwright's sync API) it is run in a thread of its own."""
    import asyncio
    import threading
    page = _page(app, source)
    results = []

    async def inside():
        sealed_here = seal(source, page, demo_identity, reason="Essai")
        results.append(check(sealed_here, demo_identity))
    # A thread of its own for the loop (the suite's main thread may hold Playwright's).
    runner = threading.Thread(target=lambda: asyncio.run(inside()))
    runner.start()
    runner.join(timeout=60)
    assert results and results[0].ok

"""The CFA's sealing certificate: the key and certificate that seal every signed PDF.

Production points SIGNATURE_CERT / SIGNATURE_KEY (PEM files, optional
SIGNATURE_KEY_PASSWORD) at the CFA's certificate de cachet. Without them (demo, tests), a
self-signed demonstration certificate is generated once into <instance>/signature/ and reused:
every gunicorn worker must seal with the same key, hence the file lock and atomic writes.
"""
from __future__ import annotations

import fcntl
import os
import tempfile
import threading
import weakref
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

DEMO_COMMON_NAME = "Sillon – cachet du CFA (démonstration)"
DEMO_YEARS = 5
FOLDER = "signature"


@dataclass(frozen=True)
class SealingIdentity:
    cert_pem: bytes
    key_pem: bytes
    password: bytes | None
    common_name: str
    generated: bool  # True for the self-signed demo/test identity
    _cache: dict = field(default_factory=dict, init=False, repr=False, compare=False,
                         hash=False)

    def certificate(self):
        """The (first) certificate as asn1crypto, as pyHanko wants it (trust root)."""
        return self._pyhanko_chain()[0]

    def signer(self):
        """A pyhanko SimpleSigner over this key and certificate (built once)."""
        if "signer" not in self._cache:
            from pyhanko.keys.internal import translate_pyca_cryptography_key_to_asn1
            from pyhanko_certvalidator.registry import SimpleCertificateStore
            leaf, *others = self._pyhanko_chain()
            registry = SimpleCertificateStore()
            registry.register_multiple(others)
            private = serialization.load_pem_private_key(self.key_pem, password=self.password)
            self._cache["signer"] = _signer_class()(
                signing_cert=leaf, signing_key=translate_pyca_cryptography_key_to_asn1(private),
                cert_registry=registry, private_key=private)
        return self._cache["signer"]

    def _pyhanko_chain(self) -> list:
        if "chain" not in self._cache:
            from pyhanko.keys import load_certs_from_pemder_data
            self._cache["chain"] = list(load_certs_from_pemder_data(self.cert_pem))
        return self._cache["chain"]


def _signer_class():
    """SimpleSigner re-reads (and re-checks, ~70 ms for RSA-2048) its key at every signature,
    twice per seal (size estimate, then the signature): this one keeps the loaded RSA key."""
    from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
    from pyhanko_certvalidator.util import get_pyca_cryptography_hash
    from pyhanko.sign.signers import SimpleSigner

    class CachedKeySigner(SimpleSigner):
        def __init__(self, *, private_key, **kwargs):
            super().__init__(**kwargs)
            self._private_key = private_key

        def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
            mechanism = self.get_signature_mechanism_for_digest(digest_algorithm)
            if _algo(mechanism) == "rsassa_pkcs1v15" \
                    and isinstance(self._private_key, rsa.RSAPrivateKey):
                return self._private_key.sign(data, PKCS1v15(),
                                              get_pyca_cryptography_hash(digest_algorithm))
            return super().sign_raw(data, digest_algorithm)  # other key types: as pyHanko does

    return CachedKeySigner


def _algo(mechanism) -> str:
    try:
        return mechanism.signature_algo
    except ValueError:
        return mechanism["algorithm"].native


_identities: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_identities_lock = threading.Lock()


def sealing_identity(app) -> SealingIdentity:
    """The app's sealing identity: the configured PEM files, or the generated demo one."""
    cert_path = app.config.get("SIGNATURE_CERT") or None
    key_path = app.config.get("SIGNATURE_KEY") or None
    password = app.config.get("SIGNATURE_KEY_PASSWORD") or None
    if isinstance(password, str):
        password = password.encode()
    if (cert_path is None) != (key_path is None):
        missing = "SIGNATURE_KEY" if key_path is None else "SIGNATURE_CERT"
        raise RuntimeError(
            f"SIGNATURE_CERT and SIGNATURE_KEY must be set together (the sealing certificate "
            f"and its private key, PEM files): {missing} is missing. Unset both to use the "
            f"generated demonstration certificate.")
    org = app.config.get("CFA_NAME", "CFA Sillon")
    key = (str(cert_path), str(key_path), password, app.instance_path, org)
    with _identities_lock:
        per_app = _identities.setdefault(app, {})
        if key not in per_app:
            if cert_path is None:
                per_app[key] = _generated(Path(app.instance_path) / FOLDER, org)
            else:
                per_app[key] = _configured(Path(cert_path), Path(key_path), password)
        return per_app[key]


def clear_cache() -> None:
    """Forget the identities read so far (tests; a renewed certificate needs a restart)."""
    with _identities_lock:
        _identities.clear()


def _configured(cert_path: Path, key_path: Path, password: bytes | None) -> SealingIdentity:
    try:
        cert_pem, key_pem = cert_path.read_bytes(), key_path.read_bytes()
    except OSError as exc:
        raise RuntimeError(f"cannot read the sealing certificate or key: {exc}") from exc
    try:
        cert = x509.load_pem_x509_certificates(cert_pem)[0]
        private = serialization.load_pem_private_key(key_pem, password=password)
    except (ValueError, TypeError) as exc:
        raise RuntimeError(f"invalid sealing certificate or key ({cert_path}, {key_path}): "
                           f"{exc}") from exc
    if private.public_key().public_bytes(*_SPKI) != cert.public_key().public_bytes(*_SPKI):
        raise RuntimeError(f"the key {key_path} does not match the certificate {cert_path}")
    return SealingIdentity(cert_pem=cert_pem, key_pem=key_pem, password=password,
                           common_name=_common_name(cert), generated=False)


_SPKI = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _generated(folder: Path, org: str) -> SealingIdentity:
    cert_pem, key_pem = generated_pems(folder, org)
    cert = x509.load_pem_x509_certificate(cert_pem)
    return SealingIdentity(cert_pem=cert_pem, key_pem=key_pem, password=None,
                           common_name=_common_name(cert), generated=True)


def generated_pems(folder: Path, org: str) -> tuple[bytes, bytes]:
    """(cert PEM, key PEM) of the demo identity in folder, generated by the first caller:
    concurrent callers (several workers at start-up) wait on the lock and read its files."""
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    if cert_file.exists() and key_file.exists():
        return cert_file.read_bytes(), key_file.read_bytes()
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    with open(folder / ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not (cert_file.exists() and key_file.exists()):
                cert_pem, key_pem = _self_signed(org)
                # the key first: a cert file never exists without its key
                _write_atomic(key_file, key_pem, 0o600)
                _write_atomic(cert_file, cert_pem, 0o644)
            return cert_file.read_bytes(), key_file.read_bytes()
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _write_atomic(path: Path, data: bytes, mode: int) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # created 0600
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _self_signed(org: str) -> tuple[bytes, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
                      x509.NameAttribute(NameOID.COMMON_NAME, DEMO_COMMON_NAME)])
    now = datetime.now(timezone.utc)
    cert = (x509.CertificateBuilder()
            .subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=365 * DEMO_YEARS + 1))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False,
                                         decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def _common_name(cert: x509.Certificate) -> str:
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else cert.subject.rfc4514_string()

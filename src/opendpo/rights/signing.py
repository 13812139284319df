"""The OpenDSR processor's signing key and certificate.

The P-256 key is derived from the keyring (`opendsr-signing`), so there is no further secret
to store, and every server process signs with the same key. The certificate is self-signed
and built deterministically (fixed validity, serial from the public key, deterministic ECDSA):
every process serves the same bytes. A controller that insists on a CA-issued certificate
(the spec asks for one) can be given one for this key; the public key is what verifies.

Signatures are ECDSA with SHA-256 over the raw bytes of a body, DER-encoded, then base64: the
value of the `X-OpenDSR-Signature` header on every response and callback.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from opendpo.security.keyring import Keyring

SIGNATURE_HEADER = "X-OpenDSR-Signature"
DOMAIN_HEADER = "X-OpenDSR-Processor-Domain"
# The order of the P-256 group (FIPS 186-4, D.1.2.3): private keys are 1 .. n-1.
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
NOT_BEFORE = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
NOT_AFTER = dt.datetime(2050, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Signer:
    """Signs bodies as the processor at `domain`; `certificate_pem` is what discovery links."""

    domain: str
    private_key: ec.EllipticCurvePrivateKey
    certificate_pem: bytes

    def sign(self, body: bytes) -> str:
        signature = self.private_key.sign(body, ec.ECDSA(hashes.SHA256()))
        return base64.b64encode(signature).decode()

    def headers(self, body: bytes) -> dict[str, str]:
        return {SIGNATURE_HEADER: self.sign(body), DOMAIN_HEADER: self.domain}


def processor_domain(base_url: str) -> str:
    return urlsplit(base_url).hostname or "localhost"


def signer_for(keyring: Keyring, base_url: str) -> Signer:
    """The signer of this installation; built once per key and address."""
    return _build(keyring.derived_key("opendsr-signing"), processor_domain(base_url))


@lru_cache(maxsize=4)
def _build(seed: bytes, domain: str) -> Signer:
    scalar = int.from_bytes(seed, "big") % (P256_ORDER - 1) + 1
    key = ec.derive_private_key(scalar, ec.SECP256R1())
    public = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    # Positive and under 20 bytes, as RFC 5280 requires; the same for the same key.
    serial = int.from_bytes(hashlib.sha256(public).digest()[:16], "big") >> 1
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, domain),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "OpenDPO OpenDSR processor"),
        ]
    )
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(NOT_BEFORE)
        .not_valid_after(NOT_AFTER)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(domain)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256(), ecdsa_deterministic=True)
    )
    pem = certificate.public_bytes(serialization.Encoding.PEM)
    return Signer(domain=domain, private_key=key, certificate_pem=pem)


def verify(certificate_pem: bytes, body: bytes, signature: str) -> bool:
    """Whether `signature` (the header's value) is the certificate's key's signature of `body`:
    what a controller does with a response or callback before trusting it."""
    public = x509.load_pem_x509_certificate(certificate_pem).public_key()
    if not isinstance(public, ec.EllipticCurvePublicKey):
        return False
    try:
        public.verify(base64.b64decode(signature), body, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        return False
    return True

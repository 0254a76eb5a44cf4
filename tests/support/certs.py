"""Throwaway PKI for TLS tests: a CA, a server certificate for 127.0.0.1/localhost, client certificates.

Keys are P-256 (fast to make); everything is written as PEM into a directory the test owns.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["CertificateAuthority", "Pki", "make_pki"]

_VALIDITY = datetime.timedelta(days=2)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> Path:
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                          serialization.NoEncryption())
    )
    return path


@dataclass(frozen=True)
class CertificateAuthority:
    """A self-signed CA that can issue leaf certificates into `directory`."""

    name: str
    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate
    cert_file: Path

    @classmethod
    def create(cls, directory: Path, name: str) -> CertificateAuthority:
        """A new CA whose certificate is written to `directory/<name>.pem`."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(_name(name))
            .issuer_name(_name(name))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + _VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                              content_commitment=False, key_encipherment=False, data_encipherment=False,
                              key_agreement=False, encipher_only=False, decipher_only=False),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        cert_file = directory / f"{name}.pem"
        cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        return cls(name, key, certificate, cert_file)

    def issue(self, directory: Path, name: str, *, server: bool) -> tuple[Path, Path]:
        """A leaf for serverAuth (SANs localhost, 127.0.0.1, ::1) or clientAuth; returns (cert, key) paths."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(name))
            .issuer_name(self.certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + _VALIDITY)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False
            )
        )
        if server:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    x509.IPAddress(ipaddress.ip_address("::1")),
                ]),
                critical=False,
            )
        certificate = builder.sign(self.key, hashes.SHA256())
        cert_file = directory / f"{name}.pem"
        cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        return cert_file, _write_key(key, directory / f"{name}.key")


@dataclass(frozen=True)
class Pki:
    """Everything a TLS test needs, as PEM file paths."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    other_ca: Path
    """A CA that signed nothing here: trusting only it must fail."""
    stranger_cert: Path
    stranger_key: Path
    """A client certificate from other_ca: a mutual-TLS server must refuse it."""


def make_pki(directory: Path) -> Pki:
    """A CA with a server and a client certificate, and a second, unrelated CA with a client of its own."""
    directory.mkdir(parents=True, exist_ok=True)
    ca = CertificateAuthority.create(directory, "mlsuite-test-ca")
    server_cert, server_key = ca.issue(directory, "server", server=True)
    client_cert, client_key = ca.issue(directory, "client", server=False)
    other = CertificateAuthority.create(directory, "other-ca")
    stranger_cert, stranger_key = other.issue(directory, "stranger", server=False)
    return Pki(ca.cert_file, server_cert, server_key, client_cert, client_key, other.cert_file, stranger_cert,
               stranger_key)

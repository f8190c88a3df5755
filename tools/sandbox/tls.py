"""Certificates for the sandbox: a CA made at start, the server's certificate, client certificates for users.

EC P-256 keys: generating them takes about a millisecond, so every sandbox can afford a CA of its own. Client
certificates carry the user in CN and the groups in O, as the real API server reads them.
"""

from __future__ import annotations

import ipaddress
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_VALID = timedelta(days=2)  # a sandbox lives for minutes; two days leave room for clock skew


@dataclass(frozen=True)
class KeyPair:
    cert_pem: bytes
    key_pem: bytes


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


class CertificateAuthority:
    """A throw-away CA: signs the server's certificate and any client certificate a test asks for."""

    def __init__(self, common_name: str = "kubeduty-sandbox-ca") -> None:
        self._key = _key()
        now = datetime.now(UTC)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        self._name = name
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(hours=1))
            .not_valid_after(now + _VALID)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    key_cert_sign=True,
                    crl_sign=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self._key.public_key()), critical=False)
            .sign(self._key, hashes.SHA256())
        )
        self.cert_pem = self.cert.public_bytes(serialization.Encoding.PEM)

    def _issue(self, subject: x509.Name, *, server: bool, hosts: tuple[str, ...] = ()) -> KeyPair:
        key = _key()
        now = datetime.now(UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self._name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(hours=1))
            .not_valid_after(now + _VALID)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]),
                critical=False,
            )
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()), critical=False)
        )
        if hosts:
            names: list[x509.GeneralName] = []
            for host in hosts:
                try:
                    names.append(x509.IPAddress(ipaddress.ip_address(host)))
                except ValueError:
                    names.append(x509.DNSName(host))
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        cert = builder.sign(self._key, hashes.SHA256())
        return KeyPair(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))

    def server_pair(self, hosts: tuple[str, ...] = ("127.0.0.1", "localhost", "::1")) -> KeyPair:
        return self._issue(
            x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]), server=True, hosts=hosts
        )

    def client_pair(self, user: str, groups: tuple[str, ...] = ()) -> KeyPair:
        attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, g) for g in groups]
        attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, user))
        return self._issue(x509.Name(attrs), server=False)


def server_context(ca: CertificateAuthority, pair: KeyPair, directory: Path) -> ssl.SSLContext:
    """TLS for the listener: client certificates are optional (tokens work too) but verified when sent."""
    directory.mkdir(parents=True, exist_ok=True)
    cert, key, ca_file = directory / "server.crt", directory / "server.key", directory / "ca.crt"
    cert.write_bytes(pair.cert_pem)
    key.write_bytes(pair.key_pem)
    key.chmod(0o600)
    ca_file.write_bytes(ca.cert_pem)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    ctx.load_verify_locations(cafile=str(ca_file))
    ctx.verify_mode = ssl.CERT_OPTIONAL
    return ctx


def identity_from_peercert(peercert: object) -> tuple[str, tuple[str, ...]] | None:
    """(user, groups) from a verified peer certificate as `ssl` decodes it: CN is the user, each O a group."""
    if not isinstance(peercert, dict):
        return None
    user = ""
    groups: list[str] = []
    for rdn in peercert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                user = str(value)
            elif key == "organizationName":
                groups.append(str(value))
    return (user, tuple(groups)) if user else None

"""Test certificates made with ``cryptography``: a CA, a server certificate for
127.0.0.1/localhost, client certificates, and a foreign CA whose client certificate the
broker must refuse. Written as PEM files (key and chain together where Kafka's
``ssl.keystore.type=PEM`` expects them)."""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class Pki:
    dir: Path
    ca: Path  # CA certificate (truststore)
    server: Path  # server chain + key (keystore)
    client_cert: Path
    client_key: Path
    foreign_ca: Path
    foreign_cert: Path
    foreign_key: Path
    client_dn: str


def _name(cn: str, org: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _pem_cert(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _ca(cn: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = _key()
    now = datetime.datetime.now(datetime.UTC)
    name = _name(cn, "Riverhead Test")
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _leaf(
    ca_key: ec.EllipticCurvePrivateKey,
    ca_cert: x509.Certificate,
    name: x509.Name,
    *,
    server: bool,
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = _key()
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
    return key, builder.sign(ca_key, hashes.SHA256())


def make_pki(directory: Path) -> Pki:
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca_cert = _ca("Riverhead Test CA")
    server_key, server_cert = _leaf(ca_key, ca_cert, _name("localhost", "Riverhead"), server=True)
    client_name = _name("alice", "Riverhead")
    client_key, client_cert = _leaf(ca_key, ca_cert, client_name, server=False)
    foreign_key, foreign_cert_ca = _ca("Foreign CA")
    f_key, f_cert = _leaf(foreign_key, foreign_cert_ca, _name("mallory", "Elsewhere"), server=False)
    paths = {
        "ca": (directory / "ca.pem", _pem_cert(ca_cert)),
        "server": (directory / "server.pem", _pem_cert(server_cert) + _pem_key(server_key)),
        "client_cert": (directory / "client.pem", _pem_cert(client_cert)),
        "client_key": (directory / "client.key", _pem_key(client_key)),
        "foreign_ca": (directory / "foreign-ca.pem", _pem_cert(foreign_cert_ca)),
        "foreign_cert": (directory / "foreign.pem", _pem_cert(f_cert)),
        "foreign_key": (directory / "foreign.key", _pem_key(f_key)),
    }
    for path, data in paths.values():
        path.write_bytes(data)
    return Pki(
        dir=directory,
        **{k: v[0] for k, v in paths.items()},
        client_dn=client_name.rfc4514_string(),
    )

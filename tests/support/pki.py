"""A throw-away certificate authority for tests: server and client TLS certificates."""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    path.chmod(0o600)


@dataclass(frozen=True)
class Identity:
    """A client's certificate and key files."""

    name: str
    cert: Path
    key: Path


class TestPki:
    """A CA in ``root``; :meth:`client` issues a client certificate whose CN is the id."""

    __test__ = False  # not a pytest class

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Gatehouse Test CA")])
        now = dt.datetime.now(dt.UTC)
        self._name = name
        self._cert = (
            x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(self._key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                           critical=True)
            .sign(self._key, hashes.SHA256()))
        self.ca_file = self.root / "ca.pem"
        self.ca_file.write_bytes(self._cert.public_bytes(serialization.Encoding.PEM))
        self._revoked: list[int] = []
        self._serials: dict[str, int] = {}
        self.crl_file = self.root / "crl.pem"
        self._write_crl()
        self.server = self._issue("localhost", server=True)

    def _issue(self, cn: str, *, server: bool = False) -> Identity:
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        serial = x509.random_serial_number()
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
            .issuer_name(self._name).public_key(key.public_key()).serial_number(serial)
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]),
                critical=False))
        if server:
            builder = builder.add_extension(x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
        cert = builder.sign(self._key, hashes.SHA256())
        ident = Identity(cn, self.root / f"{cn}.crt", self.root / f"{cn}.key")
        ident.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        _write_key(ident.key, key)
        self._serials[cn] = serial
        return ident

    def client(self, cn: str) -> Identity:
        """A client certificate for ``cn`` (issued once, then reused)."""
        path = self.root / f"{cn}.crt"
        if path.exists():
            return Identity(cn, path, self.root / f"{cn}.key")
        return self._issue(cn)

    def revoke(self, cn: str) -> None:
        """Put ``cn``'s certificate on the CRL."""
        self._revoked.append(self._serials[cn])
        self._write_crl()

    def _write_crl(self) -> None:
        now = dt.datetime.now(dt.UTC)
        builder = (x509.CertificateRevocationListBuilder().issuer_name(self._name)
                   .last_update(now - dt.timedelta(minutes=1)).next_update(now + dt.timedelta(days=1)))
        for serial in self._revoked:
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(now).build())
        crl = builder.sign(self._key, hashes.SHA256())
        self.crl_file.write_bytes(crl.public_bytes(serialization.Encoding.PEM))

"""The district CA: device client certificates, the broker's server certificate, the CRL,
device config bundles, and the Mosquitto password/ACL files generated from the registry.

Files under the CA directory: ``ca.key`` (0600), ``ca.pem``, ``crl.pem``, and the hub's own
client identity ``hub.pem``/``hub.key``. TLS keys are ECDSA P-256; the message-signing keys
are Ed25519 (:mod:`link.keys`).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import ipaddress
import os
import secrets
import tarfile
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from link import keys as link_keys
from link import topics
from link.broker_acl import mosquitto_acl


class PkiError(ValueError):
    """A CA directory that is missing, damaged or asked to do something it cannot."""


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _write(path: Path, data: bytes, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


@dataclass(frozen=True)
class Issued:
    """A certificate and its private key, as PEM, with the serial in hex."""

    cert_pem: bytes
    key_pem: bytes
    serial: str


class DistrictCA:
    """The CA in ``ca_dir``; :meth:`create` makes one, the constructor loads it."""

    def __init__(self, ca_dir: Path | str) -> None:
        self.dir = Path(ca_dir)
        try:
            key = serialization.load_pem_private_key((self.dir / "ca.key").read_bytes(), None)
            cert = x509.load_pem_x509_certificate((self.dir / "ca.pem").read_bytes())
        except OSError as exc:
            raise PkiError(f"{self.dir}: no CA here ({exc.strerror}); run "
                           "`gatehouse-hub pki init` first") from None
        except ValueError:
            raise PkiError(f"{self.dir}: ca.key or ca.pem is damaged") from None
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise PkiError(f"{self.dir}/ca.key: not an EC key")
        self._key, self.cert = key, cert

    @classmethod
    def create(cls, ca_dir: Path | str, *, name: str = "Gatehouse District CA",
               days: int = 3650, now: dt.datetime | None = None) -> DistrictCA:
        """Create a CA (refuses to overwrite an existing one)."""
        ca_dir = Path(ca_dir)
        if (ca_dir / "ca.key").exists():
            raise PkiError(f"{ca_dir}: a CA already exists; refusing to replace it")
        now = now or dt.datetime.now(dt.UTC)
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(minutes=5))
                .not_valid_after(now + dt.timedelta(days=days))
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(x509.KeyUsage(False, False, False, False, False, True, True,
                                             False, False), critical=True)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                               critical=False)
                .sign(key, hashes.SHA256()))
        _write(ca_dir / "ca.key", _key_pem(key), 0o600)
        _write(ca_dir / "ca.pem", cert.public_bytes(serialization.Encoding.PEM))
        ca = cls(ca_dir)
        ca.write_crl([], now=now)
        return ca

    @property
    def ca_pem(self) -> bytes:
        """The CA certificate (what every client and the broker trust)."""
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def _issue(self, cn: str, *, server_names: list[str] | None, days: int,
               now: dt.datetime) -> Issued:
        key = ec.generate_private_key(ec.SECP256R1())
        serial = x509.random_serial_number()
        builder = (x509.CertificateBuilder()
                   .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
                   .issuer_name(self.cert.subject).public_key(key.public_key())
                   .serial_number(serial).not_valid_before(now - dt.timedelta(minutes=5))
                   .not_valid_after(now + dt.timedelta(days=days))
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None),
                                  critical=True)
                   .add_extension(x509.ExtendedKeyUsage(
                       [ExtendedKeyUsageOID.SERVER_AUTH if server_names is not None
                        else ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False))
        if server_names is not None:
            alt: list[x509.GeneralName] = []
            for name in server_names:
                try:
                    alt.append(x509.IPAddress(ipaddress.ip_address(name)))
                except ValueError:
                    alt.append(x509.DNSName(name))
            builder = builder.add_extension(x509.SubjectAlternativeName(alt), critical=False)
        cert = builder.sign(self._key, hashes.SHA256())
        return Issued(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key),
                      format(serial, "x"))

    def issue_client(self, cn: str, *, days: int = 825,
                     now: dt.datetime | None = None) -> Issued:
        """A client certificate whose common name is the broker user name (a device id, or hub)."""
        if cn != topics.HUB_ID:
            topics.check_id(cn)
        return self._issue(cn, server_names=None, days=days, now=now or dt.datetime.now(dt.UTC))

    def issue_server(self, names: list[str], *, days: int = 825,
                     now: dt.datetime | None = None) -> Issued:
        """The broker's server certificate for these host names / addresses."""
        if not names:
            raise PkiError("a server certificate needs at least one host name or address")
        return self._issue(names[0], server_names=names, days=days,
                           now=now or dt.datetime.now(dt.UTC))

    def write_crl(self, revoked: list[tuple[str, dt.datetime]], *,
                  now: dt.datetime | None = None, days: int = 30) -> Path:
        """Write ``crl.pem`` listing these (hex serial, revoked at); Mosquitto reads it on reload."""
        now = now or dt.datetime.now(dt.UTC)
        builder = (x509.CertificateRevocationListBuilder().issuer_name(self.cert.subject)
                   .last_update(now - dt.timedelta(minutes=1))
                   .next_update(now + dt.timedelta(days=days)))
        for serial, when in revoked:
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder().serial_number(int(serial, 16))
                .revocation_date(when).build())
        crl = builder.sign(self._key, hashes.SHA256())
        path = self.dir / "crl.pem"
        _write(path, crl.public_bytes(serialization.Encoding.PEM))
        return path

    def hub_identity(self) -> tuple[Path, Path]:
        """The hub's own client certificate and key (issued on first use)."""
        cert, key = self.dir / "hub.pem", self.dir / "hub.key"
        if not cert.exists() or not key.exists():
            issued = self.issue_client(topics.HUB_ID)
            _write(key, issued.key_pem, 0o600)
            _write(cert, issued.cert_pem)
        return cert, key


# --------------------------------------------------------------------------- bundles
@dataclass(frozen=True)
class DeviceMaterial:
    """Everything a new device gets: TLS identity and Ed25519 signing key pair."""

    device_id: str
    tls: Issued
    signing_key: Ed25519PrivateKey

    @property
    def public_key_pem(self) -> bytes:
        """The Ed25519 public key the hub registers."""
        return link_keys.public_pem(self.signing_key.public_key())


def new_device_material(ca: DistrictCA, device_id: str) -> DeviceMaterial:
    """Issue a client certificate and generate a signing key for ``device_id``."""
    return DeviceMaterial(device_id, ca.issue_client(device_id), Ed25519PrivateKey.generate())


def _toml_str(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def device_toml(*, device_id: str, kind: str, broker_host: str, broker_port: int,
                door_ids: list[str], etc: str = "/etc/gatehouse") -> str:
    """The device's ``controller.toml`` or ``kiosk.toml`` pointing at the bundle's files."""
    e = etc.rstrip("/")
    if kind == "controller":
        lines = [
            "# Generated by gatehouse-hub device add. Wire each door's pins, then start the service.",
            "[device]", f"id = {_toml_str(device_id)}",
            'state_dir = "/var/lib/gatehouse/controller"', "",
            "[broker]", f"host = {_toml_str(broker_host)}", f"port = {broker_port}",
            f'ca_file = "{e}/ca.pem"', f'cert_file = "{e}/{device_id}.pem"',
            f'key_file = "{e}/{device_id}.key"', "",
            "[keys]", f'device_key = "{e}/{device_id}.ed25519"',
            f'hub_public_key = "{e}/hub.pub"', f'site_key_file = "{e}/site.key"', "",
        ]
        # BCM pins of the reference wiring (deploy/ Pi guide); a second door uses the others.
        # NOTE: GPIO 7-11 carry SPI (both readers' chip selects, MISO, MOSI, SCLK) and 12, 16,
        # 19-21, 23 and 26 the default keypad matrix, so the second door avoids all of them; its
        # REX and buzzer use the UART pins (disable the serial console, docs/hardware.md).
        wiring = [dict(relay=17, contact=27, rex=22, green=5, red=6, buzzer=13, dev=0, rst=25),
                  dict(relay=18, contact=24, rex=14, green=2, red=3, buzzer=15, dev=1, rst=4)]
        for door_id, pins in zip(door_ids or ["CHANGE-ME"], wiring):
            lines += ["[[doors]]", f"id = {_toml_str(door_id)}",
                      f'reader = {{ type = "mfrc522", device = {pins["dev"]}, '
                      f'rst_pin = {pins["rst"]} }}',
                      f"relay_pin = {pins['relay']}", f"contact_pin = {pins['contact']}",
                      f"rex_pin = {pins['rex']}", f"green_led_pin = {pins['green']}",
                      f"red_led_pin = {pins['red']}", f"buzzer_pin = {pins['buzzer']}", ""]
        return "\n".join(lines)
    return "\n".join([
        "# Generated by gatehouse-hub device add. Choose the camera and printer, then start.",
        "[kiosk]", f"id = {_toml_str(device_id)}", 'state_dir = "/var/lib/gatehouse/kiosk"', "",
        "[camera]", 'type = "opencv"', "index = 0", "",
        "[printer]", 'type = "usb"', "",
        "[link]", f"host = {_toml_str(broker_host)}", f"port = {broker_port}",
        f'ca_file = "{e}/ca.pem"', f'cert_file = "{e}/{device_id}.pem"',
        f'key_file = "{e}/{device_id}.key"', f'device_key_file = "{e}/{device_id}.ed25519"',
        f'hub_public_key_file = "{e}/hub.pub"', "",
    ])


def bundle(material: DeviceMaterial, *, kind: str, ca_pem: bytes, hub_public_pem: bytes,
           broker_host: str, broker_port: int, door_ids: list[str],
           site_key: bytes | None) -> bytes:
    """One tar.gz with the TOML and every PEM the device needs (keys 0600)."""
    d = material.device_id
    signing = material.signing_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption())
    files: list[tuple[str, bytes, int]] = [
        (f"{kind}.toml", device_toml(device_id=d, kind=kind, broker_host=broker_host,
                                     broker_port=broker_port, door_ids=door_ids).encode(), 0o644),
        ("ca.pem", ca_pem, 0o644),
        (f"{d}.pem", material.tls.cert_pem, 0o644),
        (f"{d}.key", material.tls.key_pem, 0o600),
        (f"{d}.ed25519", signing, 0o600),
        (f"{d}.ed25519.pub", material.public_key_pem, 0o644),
        ("hub.pub", hub_public_pem, 0o644),
        ("README.txt", (f"Gatehouse {kind} {d}: copy these files to /etc/gatehouse/ on the Pi "
                        f"(owner gatehouse, keys 0600), then enable gatehouse-{kind}.service.\n"
                        ).encode(), 0o644),
    ]
    if site_key is not None:
        # Controllers compute the card HMAC at the reader, so they need the site key.
        files.append(("site.key", site_key, 0o600))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data, mode in files:
            info = tarfile.TarInfo(f"gatehouse-{d}/{name}")
            info.size, info.mode, info.mtime = len(data), mode, 0
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


# --------------------------------------------------------------------------- broker files
def mosquitto_password_line(user: str, password: str, *, iterations: int = 101,
                            salt: bytes | None = None) -> str:
    """A ``mosquitto_passwd`` line (``$7$``: PBKDF2-SHA512, base64 salt and hash)."""
    if not user or ":" in user or "\n" in user:
        raise PkiError(f"invalid broker user name {user!r}")
    salt = salt if salt is not None else secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, iterations)
    return (f"{user}:$7${iterations}${base64.b64encode(salt).decode()}$"
            f"{base64.b64encode(digest).decode()}")


@dataclass(frozen=True)
class BrokerFiles:
    """Where :func:`write_broker_files` put things."""

    acl: Path
    passwd: Path
    crl: Path
    passwords: dict[str, Path]


def write_broker_files(ca: DistrictCA, out_dir: Path | str, *,
                       revoked: list[tuple[str, dt.datetime]],
                       observers: list[str] = (), password_users: list[str] = ()) -> BrokerFiles:
    """ACL (pattern rules from the topic table), password file, CRL, all from the registry.

    Devices authenticate by certificate (their CN is the user name); ``observers`` (demo,
    tests) may read everything and write only ``sim/``; each password user gets a fresh
    random password in ``<out>/<user>.password`` (0600).
    """
    out = Path(out_dir)
    acl = out / "acl"
    _write(acl, mosquitto_acl(hub_users=(topics.HUB_ID,), observers=tuple(observers)).encode())
    lines, pw_files = [], {}
    for user in list(dict.fromkeys([*observers, *password_users])):
        password = secrets.token_urlsafe(18)
        lines.append(mosquitto_password_line(user, password))
        pw_files[user] = out / f"{user}.password"
        _write(pw_files[user], password.encode(), 0o600)
    passwd = out / "passwd"
    _write(passwd, ("\n".join(lines) + "\n" if lines else "").encode(), 0o600)
    crl_src = ca.write_crl(revoked)
    crl = out / "crl.pem"
    if crl != crl_src:
        _write(crl, crl_src.read_bytes())
    return BrokerFiles(acl, passwd, crl, pw_files)

"""deploy/nginx/gatehouse-hub.conf in front of the real ``gatehouse-hub serve``, and the hub's
processes under the memory restriction the units set (MemoryDenyWriteExecute=yes).

nginx must pass the headers ``[auth] trusted_proxies = 1`` trusts: the hub then sees HTTPS
(it sends HSTS) and the client's address. The hub runs here under the kernel's
``PR_SET_MDWE`` (no writable+executable memory, inherited across exec), which is what
systemd's MemoryDenyWriteExecute enforces, so a library that needs W+X pages fails the test.
"""

from __future__ import annotations

import ctypes
import os
import re
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deploy.conftest import DEPLOY, HubSite, script
from tests.deploy.test_mosquitto_conf import Broker, connect, make_broker
from tests.support.mosquitto import free_port
from tests.support.pki import TestPki

SITE_CONF = DEPLOY / "nginx" / "gatehouse-hub.conf"
PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN = 65, 1
# Runs in the child: restrict memory, then exec the real console script.
MDWE_EXEC = (
    "import ctypes, os, sys\n"
    "libc = ctypes.CDLL(None, use_errno=True)\n"
    f"if libc.prctl({PR_SET_MDWE}, {PR_MDWE_REFUSE_EXEC_GAIN}, 0, 0, 0) != 0:\n"
    "    raise SystemExit('prctl(PR_SET_MDWE) failed: errno %d' % ctypes.get_errno())\n"
    "os.execv(sys.argv[1], sys.argv[1:])\n"
)


def mdwe_supported() -> bool:
    """True when this kernel has PR_SET_MDWE (Linux 6.3+); probed in a throw-away child."""
    probe = subprocess.run([sys.executable, "-c", MDWE_EXEC, "/bin/true"], capture_output=True,
                           timeout=30)
    return probe.returncode == 0


def under_mdwe(argv: list[str]) -> list[str]:
    """``argv`` run with writable+executable memory refused (skip where the kernel cannot)."""
    if not mdwe_supported():
        pytest.skip("kernel without PR_SET_MDWE (Linux < 6.3)")
    return [sys.executable, "-c", MDWE_EXEC, *argv]


def test_the_mdwe_wrapper_really_refuses_wx_memory() -> None:
    code = ("import mmap\n"
            "mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)\n")
    proc = subprocess.run(under_mdwe([sys.executable, "-c", code]), capture_output=True,
                          text=True, timeout=30)
    assert proc.returncode != 0 and "PermissionError" in proc.stderr
    assert ctypes.sizeof(ctypes.c_void_p) in (4, 8)  # ctypes is importable here too


def test_the_hub_libraries_work_without_wx_memory(tmp_path: Path) -> None:
    """argon2id, Ed25519, AES-GCM, the TOTP code and SQLAlchemy on SQLite: the hub's native
    code paths, run in a memory-restricted child."""
    code = (
        "import sys\n"
        "from hub.auth import passwords\n"
        "from link import keys\n"
        "from hub.keyring import Vault\n"
        "import pyotp, sqlalchemy\n"
        "h = passwords.hash_password('correct horse battery staple')\n"
        "from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey\n"
        "k = Ed25519PrivateKey.generate(); k.public_key().verify(k.sign(b'x'), b'x')\n"
        "v = Vault(b'k' * 32); assert v.decrypt(v.encrypt('1234', context='c'), context='c') == '1234'\n"
        "pyotp.TOTP(pyotp.random_base32()).now()\n"
        f"e = sqlalchemy.create_engine('sqlite:///{tmp_path}/t.db')\n"
        "with e.begin() as c: c.exec_driver_sql('create table t (x)'); c.exec_driver_sql('insert into t values (1)')\n"
        "print('ok', h[:9])\n"
    )
    proc = subprocess.run(under_mdwe([sys.executable, "-c", code]), capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("ok $argon2id")


def wait_port(port: int, proc: subprocess.Popen, log: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"exited {proc.returncode}:\n{log.read_text(errors='replace')}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nothing listens on {port}:\n{log.read_text(errors='replace')}")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def hub_serve(hub_site: HubSite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """``gatehouse-hub serve`` as gatehouse-hub.service runs it (env config), under MDWE."""
    port = free_port()
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    env = {**os.environ, "GATEHOUSE_HUB_CONFIG": str(hub_site.config), "PYTHONUNBUFFERED": "1"}
    argv = under_mdwe([str(script("gatehouse-hub")), "serve", "--host", "127.0.0.1",
                       "--port", str(port)])
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_port(port, proc, log)
        yield port
    finally:
        stop(proc)


def render_site(text: str, *, hub_port: int, http_port: int, https_port: int, cert: Path,
                key: Path, logs: Path) -> str:
    """The shipped site with ports, certificate and log paths swapped for the test's."""
    text = text.replace("proxy_pass http://127.0.0.1:8000;", f"proxy_pass http://127.0.0.1:{hub_port};")
    text = re.sub(r"^\s*listen \[::\]:.*\n", "", text, flags=re.M)
    text = text.replace("listen 80;", f"listen 127.0.0.1:{http_port};")
    text = text.replace("listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;")
    text = re.sub(r"ssl_certificate\s+\S+;", f"ssl_certificate {cert};", text)
    text = re.sub(r"ssl_certificate_key\s+\S+;", f"ssl_certificate_key {key};", text)
    return text.replace("/var/log/nginx/", f"{logs}/")


@pytest.fixture(scope="module")
def nginx(hub_serve: int, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, int, TestPki]]:
    """nginx with the shipped site in front of the hub: (https port, http port, test CA)."""
    from tests.deploy.conftest import need

    binary = need("nginx")
    root = tmp_path_factory.mktemp("nginx")
    test_pki = TestPki(root / "pki")
    http_port, https_port = free_port(), free_port()
    (root / "site.conf").write_text(render_site(
        SITE_CONF.read_text(), hub_port=hub_serve, http_port=http_port, https_port=https_port,
        cert=test_pki.server.cert, key=test_pki.server.key, logs=root))
    temp = "\n".join(f"  {d}_temp_path {root}/{d};" for d in
                     ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    (root / "nginx.conf").write_text(
        ("user root;\n" if os.geteuid() == 0 else "")
        + f"daemon off;\npid {root}/nginx.pid;\nerror_log {root}/error.log;\nevents {{}}\n"
        + f"http {{\n  access_log {root}/access.log;\n{temp}\n  include {root}/site.conf;\n}}\n")
    check = subprocess.run([binary, "-t", "-p", str(root), "-c", str(root / "nginx.conf")],
                           capture_output=True, text=True, timeout=30)
    assert check.returncode == 0 and "test is successful" in check.stderr, check.stderr
    log = root / "nginx.out"
    with open(log, "wb") as out:
        proc = subprocess.Popen([binary, "-p", str(root), "-c", str(root / "nginx.conf")],
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_port(https_port, proc, log)
        yield https_port, http_port, test_pki
    finally:
        stop(proc)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # noqa: ANN002, ANN003
        return None


def fetch(url: str, *, cafile: Path | None = None) -> tuple[int, dict[str, str]]:
    ctx = ssl.create_default_context(cafile=str(cafile)) if cafile else None
    opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=ctx), _NoRedirect)
    try:
        with opener.open(url, timeout=10) as resp:
            return resp.status, dict(resp.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers)


def test_hub_behind_nginx_sees_https_and_sends_hsts(nginx: tuple[int, int, TestPki]) -> None:
    https_port, _, test_pki = nginx
    status, headers = fetch(f"https://127.0.0.1:{https_port}/auth/login", cafile=test_pki.ca_file)
    assert status == 200
    # the hub adds HSTS only when it believes the request came over HTTPS: X-Forwarded-Proto
    # from nginx, trusted because hub.toml says [auth] trusted_proxies = 1
    assert headers.get("Strict-Transport-Security", "").startswith("max-age=")
    assert headers.get("X-Frame-Options") == "DENY"


def test_direct_plain_http_to_the_hub_gets_no_hsts(hub_serve: int) -> None:
    # without the proxy's headers the same app sees plain HTTP (the control for the test above)
    status, headers = fetch(f"http://127.0.0.1:{hub_serve}/auth/login")
    assert status == 200
    assert "Strict-Transport-Security" not in headers


def test_plain_http_is_redirected_to_https(nginx: tuple[int, int, TestPki]) -> None:
    _, http_port, _ = nginx
    status, headers = fetch(f"http://127.0.0.1:{http_port}/auth/login?next=%2F")
    assert status == 301
    assert headers["Location"].startswith("https://") and headers["Location"].endswith(
        "/auth/login?next=%2F")


def test_bridge_runs_under_mdwe_against_the_production_broker(hub_site: HubSite,
                                                              tmp_path: Path) -> None:
    """gatehouse-hub-bridge.service's command, memory-restricted, connects to the broker
    configured by deploy/mosquitto/gatehouse.conf and announces itself as the hub."""
    broker: Broker = make_broker(tmp_path / "broker", hub_site)
    broker.start()
    log = tmp_path / "bridge.log"
    toml = tmp_path / "hub.toml"
    toml.write_text(hub_site.config.read_text().replace("port = 8883", f"port = {broker.port}"))
    env = {**os.environ, "GATEHOUSE_HUB_CONFIG": str(toml), "PYTHONUNBUFFERED": "1"}
    with open(log, "wb") as out:
        proc = subprocess.Popen(under_mdwe([str(script("gatehouse-hub")), "bridge"]), env=env,
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while "u'hub'" not in broker.log and time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text(errors="replace")
            time.sleep(0.1)
        assert "u'hub'" in broker.log, broker.log
        # a device connects alongside; the bridge stays up
        device = hub_site.devices["lincoln-ctl-1"]
        dev = connect(broker.port, device / "ca.pem", device / "lincoln-ctl-1.pem",
                      device / "lincoln-ctl-1.key", client_id="lincoln-ctl-1")
        assert dev.connected.is_set()
        dev.stop()
        time.sleep(1.0)
        assert proc.poll() is None, log.read_text(errors="replace")
    finally:
        stop(proc)
        broker.stop()
    assert proc.returncode == 0, log.read_text(errors="replace")

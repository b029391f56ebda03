"""Fixtures shared by every test package: a test PKI and a real Mosquitto broker.

When ``GATEHOUSE_REQUIRE_SERVICES=1`` (CI sets it), a missing broker fails the tests that
need it instead of skipping them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from link.client import BrokerConfig
from tests.support.mosquitto import Mosquitto, find_mosquitto
from tests.support.pki import TestPki

REQUIRE_SERVICES = os.environ.get("GATEHOUSE_REQUIRE_SERVICES") == "1"


def need_service(what: str) -> None:
    """Skip, or in CI fail, when a real service the test needs is missing."""
    if REQUIRE_SERVICES:
        pytest.fail(f"{what} is required (GATEHOUSE_REQUIRE_SERVICES=1) but missing")
    pytest.skip(f"{what} is not installed")


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    """A throw-away CA with a server certificate for 127.0.0.1."""
    return TestPki(tmp_path_factory.mktemp("pki"))


def _broker(root: Path, pki: TestPki) -> Mosquitto:
    if find_mosquitto() is None:
        need_service("mosquitto")
    broker = Mosquitto(root, pki)
    broker.start()
    return broker


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory: pytest.TempPathFactory, pki: TestPki) -> Iterator[Mosquitto]:
    """A real Mosquitto (TLS, client certificates, per-device ACL) for the whole session."""
    broker = _broker(tmp_path_factory.mktemp("mosquitto"), pki)
    yield broker
    broker.stop()


@pytest.fixture
def fresh_mosquitto(tmp_path: Path, pki: TestPki) -> Iterator[Mosquitto]:
    """A broker of the test's own, free to stop and restart."""
    broker = _broker(tmp_path / "mosquitto", pki)
    yield broker
    broker.stop()


def make_broker_config(broker: Mosquitto, pki: TestPki, identity: str, **kw) -> BrokerConfig:
    """A BrokerConfig that connects to ``broker`` as certificate CN ``identity``."""
    ident = pki.client(identity)
    return BrokerConfig(host=broker.host, port=broker.port, client_id=kw.pop("client_id", identity),
                        ca_file=pki.ca_file, cert_file=ident.cert, key_file=ident.key,
                        backoff_min_s=kw.pop("backoff_min_s", 0.2), backoff_max_s=kw.pop("backoff_max_s", 1.0),
                        **kw)


@pytest.fixture
def broker_config(mosquitto: Mosquitto, pki: TestPki) -> Callable[..., BrokerConfig]:
    """Factory: ``broker_config("door-1")`` connects to the session broker as ``door-1``."""
    return lambda identity, **kw: make_broker_config(mosquitto, pki, identity, **kw)

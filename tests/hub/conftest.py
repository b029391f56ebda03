"""Hub fixtures: an app on SQLite and on a real PostgreSQL, with its secrets in a temp dir."""

from __future__ import annotations

import itertools
import os
from datetime import UTC, datetime

import pytest

from hub import create_app
from hub.db import get_database
from hub.keyring import get_keyring
from tests.hub.postgres import PostgresServer, PostgresUnavailable

_counter = itertools.count()
NOW = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)  # a Monday, 09:00 in New York


@pytest.fixture(scope="session")
def postgres_server():
    """One PostgreSQL server for the whole run (fails, never skips, when services are required)."""
    try:
        server = PostgresServer().start()
    except PostgresUnavailable as exc:
        if os.environ.get("GATEHOUSE_REQUIRE_SERVICES") == "1":
            pytest.fail(f"PostgreSQL is required but did not start: {exc}")
        pytest.skip(f"PostgreSQL unavailable: {exc}")
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """A fresh empty database URL on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/hub.db"
    server = request.getfixturevalue("postgres_server")
    return server.create_database(f"t{os.getpid()}_{next(_counter)}")


def make_test_app(db_url: str, tmp_path, **extra):
    """A hub app with its tables created and every secret file under ``tmp_path``."""
    app = create_app({
        "TESTING": True, "DATABASE_URL": db_url, "VAR_DIR": str(tmp_path / "var"),
        "SITE_KEY_FILE": str(tmp_path / "secrets/site.key"),
        "VAULT_KEY_FILE": str(tmp_path / "secrets/vault.key"),
        "HUB_KEY_FILE": str(tmp_path / "secrets/hub.pem"),
        "CA_DIR": str(tmp_path / "ca"), "KEY_RETURN_DAYS": 3, **extra,
    })
    get_database(app).create_all()
    return app


@pytest.fixture
def app(db_url, tmp_path):
    """The hub app on each backend."""
    app = make_test_app(db_url, tmp_path)
    yield app
    get_database(app).dispose()


@pytest.fixture
def db(app):
    """The app's :class:`hub.db.Database`."""
    return get_database(app)


@pytest.fixture
def keyring(app):
    """The app's secrets."""
    return get_keyring(app)


@pytest.fixture
def session(db):
    """A session for service tests (committed by the test when it needs to)."""
    s = db.sessionmaker()
    yield s
    s.rollback()
    s.close()


@pytest.fixture
def client(app):
    """Flask's test client."""
    return app.test_client()

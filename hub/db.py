"""Database engine, sessions and the declarative base for every hub model.

Seam for other hub packages (the accounts layer in ``hub/auth`` included):

* models subclass :class:`Base` (import it from here) and use :class:`UTCDateTime` for times;
* inside a request, :func:`get_session` returns the request's session (closed at teardown;
  the caller commits);
* outside a request (CLI, bridge, tests), ``with get_database(app).session() as s: ...``
  gives a session that commits on success and rolls back on error;
* :func:`make_engine` builds an engine from a URL with the hub's SQLite settings (WAL,
  ``synchronous=FULL``, foreign keys on, a busy timeout); PostgreSQL URLs use psycopg 3.

Must not import ``flask`` views, ``hub.services`` or anything outside ``link``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

DEFAULT_URL = "sqlite:///var/gatehouse.db"

_NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime on every backend (SQLite stores text and forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: the hub stores aware UTC times only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base of every hub table (constraint names fixed for Alembic)."""

    metadata = MetaData(naming_convention=_NAMING)
    type_annotation_map = {datetime: UTCDateTime()}


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    # WAL lets readers run while the bridge writes; FULL makes each commit durable.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def normalise_url(url: str) -> str:
    """Use psycopg 3 for ``postgresql://`` URLs; leave others as given."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def make_engine(url: str = DEFAULT_URL, **kwargs: Any) -> Engine:
    """An engine for ``url`` with the hub's settings; creates the SQLite file's folder."""
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        kwargs.setdefault("connect_args", {"check_same_thread": False, "timeout": 10})
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


class Database:
    """An engine plus its session factory."""

    def __init__(self, url: str = DEFAULT_URL, *, engine: Engine | None = None) -> None:
        self.url = normalise_url(url)
        self.engine = engine if engine is not None else make_engine(self.url)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits when the block ends normally and rolls back otherwise."""
        session = self.sessionmaker()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def create_all(self) -> None:
        """Create every table directly (tests); production uses ``gatehouse-hub db upgrade``."""
        import hub.models  # noqa: F401  (registers every table)

        Base.metadata.create_all(self.engine)

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


_EXT = "gatehouse.db"


def init_app(app: Any) -> Database:
    """Bind a :class:`Database` for ``app.config['DATABASE_URL']`` and close sessions at teardown."""
    from flask import g

    db = Database(app.config["DATABASE_URL"])
    app.extensions[_EXT] = db

    @app.teardown_appcontext
    def _close_session(_exc: BaseException | None) -> None:
        session = g.pop("_gatehouse_session", None)
        if session is not None:
            session.close()

    return db


def get_database(app: Any = None) -> Database:
    """The :class:`Database` bound to ``app`` (default: the current Flask app)."""
    if app is None:
        from flask import current_app

        app = current_app
    return app.extensions[_EXT]


def get_session() -> Session:
    """The current request's session (opened on first use, closed at teardown)."""
    from flask import g

    session = g.get("_gatehouse_session")
    if session is None:
        session = get_database().sessionmaker()
        g._gatehouse_session = session
    return session


def utcnow() -> datetime:
    """The current aware UTC time (shells only; cores take ``now`` as an argument)."""
    return datetime.now(UTC)

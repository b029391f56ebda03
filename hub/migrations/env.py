"""Alembic environment: the URL comes from the hub's configuration, the schema from hub.models."""

from __future__ import annotations

from alembic import context

import hub.models  # noqa: F401  (registers every table)
from hub.db import Base, make_engine, normalise_url

config = context.config


def _url() -> str:
    url = config.attributes.get("url")
    if url is None:
        from hub import config as hub_config

        url = hub_config.from_environment().get("DATABASE_URL", hub_config.Config.DATABASE_URL)
    return normalise_url(url)


def run_migrations_offline() -> None:
    """Emit SQL without a database connection."""
    context.configure(url=_url(), target_metadata=Base.metadata, literal_binds=True,
                      render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run against a live database (batch mode so SQLite can alter tables)."""
    engine = make_engine(_url())
    try:
        with engine.connect() as connection:
            context.configure(connection=connection, target_metadata=Base.metadata,
                              render_as_batch=True, compare_type=True)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()

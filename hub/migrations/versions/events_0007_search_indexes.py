"""events: indexes for event search by device and by type

Revision ID: events_0007
Revises: credentials_0006
Create Date: 2026-11-28 13:05:00

At 10 million events a search for one device of 200 sorted that device's 50,000 events
(2.4 s) and a type that is rare or absent scanned the whole (at, id) index (30 s); with
(device_id, at) and (type, at) each is an index range read (bench/hub_search.py).
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = 'events_0007'
down_revision: str | None = 'credentials_0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.create_index('ix_events_device_at', ['device_id', 'at'], unique=False)
        batch_op.create_index('ix_events_type_at', ['type', 'at'], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index('ix_events_type_at')
        batch_op.drop_index('ix_events_device_at')

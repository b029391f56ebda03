"""drop the legacy ``visits`` table: hub.visitors' visit_records is the one visit table

Revision ID: hub_0004
Revises: visitors_0003
Create Date: 2026-11-28 12:20:00

Until now the hub kept visits twice: ``visits`` (filled from kiosks' ``visit.signed_in`` /
``visit.signed_out`` events) and ``visit_records`` (hub.visitors, from the kiosk visit messages of
ADR 0002, with screening, holds, badge tokens and closing-time state). The API's visits on site now
reads ``visit_records``. Nothing is lost by dropping ``visits``: every row came from an event that the
``events`` table still holds, and the visit itself is in ``visit_records``. The downgrade recreates the
empty table.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import hub.db


revision: str = 'hub_0004'
down_revision: str | None = 'visitors_0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table('visits', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_visits_building_id'))
    op.drop_table('visits')


def downgrade() -> None:
    """Revert this revision."""
    op.create_table(
        'visits',
        sa.Column('id', sa.String(length=64), nullable=False),
        sa.Column('device_id', sa.String(length=64), nullable=False),
        sa.Column('building_id', sa.String(length=64), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('category', sa.String(length=16), nullable=False),
        sa.Column('host', sa.String(length=200), nullable=False),
        sa.Column('destination', sa.String(length=200), nullable=False),
        sa.Column('escort_required', sa.Boolean(), nullable=False),
        sa.Column('signed_in_at', hub.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('expires_at', hub.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('signed_out_at', hub.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('signed_out_how', sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(['device_id'], ['devices.id'], name=op.f('fk_visits_device_id_devices')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_visits')),
    )
    with op.batch_alter_table('visits', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_visits_building_id'), ['building_id'], unique=False)

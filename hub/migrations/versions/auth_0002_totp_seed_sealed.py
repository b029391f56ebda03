"""auth: TOTP seeds sealed with the vault key need a wider column

Revision ID: auth_0002
Revises: 0001
Create Date: 2026-11-28 09:30:00

Owned by hub.auth (issue 6). Seeds stored in plaintext before this revision keep working and are
sealed at their next successful use (hub.auth.services.check_totp).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "auth_0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Widen auth_account.totp_secret to hold the sealed form."""
    with op.batch_alter_table("auth_account", schema=None) as batch_op:
        batch_op.alter_column("totp_secret", existing_type=sa.String(length=64),
                              type_=sa.String(length=128), existing_nullable=True)


def downgrade() -> None:
    """Narrow the column again (sealed seeds do not fit: refuse rather than truncate)."""
    bind = op.get_bind()
    longest = bind.execute(sa.text("SELECT MAX(LENGTH(totp_secret)) FROM auth_account")).scalar()
    if longest is not None and longest > 64:
        raise RuntimeError("auth_account holds sealed TOTP seeds; they cannot be narrowed to 64 characters")
    with op.batch_alter_table("auth_account", schema=None) as batch_op:
        batch_op.alter_column("totp_secret", existing_type=sa.String(length=128),
                              type_=sa.String(length=64), existing_nullable=True)

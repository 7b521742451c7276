"""update inbox: processed updates keep their sealed body until handled

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("processed_updates", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sealed_key_id", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("sealed", sa.LargeBinary(), nullable=True))
        batch_op.add_column(
            sa.Column("handled_at", storage.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_index(
            batch_op.f("ix_processed_updates_sealed_key_id"), ["sealed_key_id"], unique=False
        )
        batch_op.create_index(
            "ix_processed_updates_pending", ["channel", "handled_at", "id"], unique=False
        )
    # Rows from before the inbox were handled when they were recorded.
    op.execute("UPDATE processed_updates SET handled_at = received_at")


def downgrade() -> None:
    with op.batch_alter_table("processed_updates", schema=None) as batch_op:
        batch_op.drop_index("ix_processed_updates_pending")
        batch_op.drop_index(batch_op.f("ix_processed_updates_sealed_key_id"))
        batch_op.drop_column("handled_at")
        batch_op.drop_column("sealed")
        batch_op.drop_column("sealed_key_id")

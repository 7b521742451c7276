"""conversation support

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "button_tokens",
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.Column(
            "channel",
            sa.Enum(
                "telegram",
                "kakao",
                "console",
                name="channel",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("user_key", sa.String(length=128), nullable=False),
        sa.Column("action", sa.String(length=48), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("expires_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("token", name=op.f("pk_button_tokens")),
    )
    with op.batch_alter_table("button_tokens", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_button_tokens_expires_at"), ["expires_at"], unique=False
        )

    op.create_table(
        "key_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_started_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("locked_until", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
            name=op.f("fk_key_attempts_owner_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_key_attempts")),
        sa.UniqueConstraint("owner_id", "subject", name=op.f("uq_key_attempts_owner_id_subject")),
    )
    with op.batch_alter_table("key_attempts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_key_attempts_owner_id"), ["owner_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("key_attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_key_attempts_owner_id"))

    op.drop_table("key_attempts")
    with op.batch_alter_table("button_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_button_tokens_expires_at"))

    op.drop_table("button_tokens")

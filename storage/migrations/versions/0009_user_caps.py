"""user caps: find one user's button tokens (the oldest beyond the cap are pruned)

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("button_tokens", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_button_tokens_channel_user_key_expires_at"),
            ["channel", "user_key", "expires_at"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("button_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_button_tokens_channel_user_key_expires_at"))

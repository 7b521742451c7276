"""button labels: a typed label presses the button last shown with it

Revision ID: 0012
Revises: 0011

KakaoTalk users type what a quick reply says as often as they press it; the label,
kept as it is compared (spaces removed, lower case), finds the button without
anything but its token ever reaching the chat app.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("button_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("label", sa.String(length=128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("button_tokens", schema=None) as batch_op:
        batch_op.drop_column("label")

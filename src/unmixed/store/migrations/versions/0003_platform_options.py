"""A bot keeps what its platform needs beyond the URL (Recall's `zoom` tokens).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("bots") as table:
        table.add_column(sa.Column("platform_options", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("bots") as table:
        table.drop_column("platform_options")

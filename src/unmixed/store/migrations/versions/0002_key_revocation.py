"""API keys can be revoked; a key from the environment is never stored.

Earlier versions stored `UNMIXED_API_KEY` like any other key, so it kept
working after the operator unset it. Its bots now belong to the environment
key (no stored owner) and the stored copy is deleted.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ENVIRONMENT_KEY_LABEL = "UNMIXED_API_KEY"


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as table:
        table.add_column(sa.Column("revoked_at", sa.DateTime(), nullable=True))
    op.execute(
        sa.text(
            "UPDATE bots SET api_key_id = NULL WHERE api_key_id IN "
            "(SELECT id FROM api_keys WHERE label = :label)"
        ).bindparams(label=ENVIRONMENT_KEY_LABEL)
    )
    op.execute(
        sa.text("DELETE FROM api_keys WHERE label = :label").bindparams(label=ENVIRONMENT_KEY_LABEL)
    )


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as table:
        table.drop_column("revoked_at")

"""Bots on many machines: dispatch, leases, commands through the store.

Revision ID: 0006_leases
Revises: 0005_idempotency
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_leases"
down_revision = "0005_idempotency"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("bots") as bots:
        bots.add_column(sa.Column("dispatched_at", sa.DateTime(), nullable=True))
        bots.add_column(sa.Column("lease_until", sa.DateTime(), nullable=True))
        bots.add_column(sa.Column("holder", sa.String(length=200), nullable=True))
        bots.add_column(sa.Column("leave_requested_at", sa.DateTime(), nullable=True))
        bots.add_column(
            sa.Column("stream_reconnects", sa.Integer(), nullable=False, server_default="0")
        )
        bots.create_index("ix_bots_lease_until", ["lease_until"])
    # Bots already past `ready` were started by the API that made them. Those not
    # finished get a lease that has run out: a bot still running renews it within
    # seconds, and one whose API died with it is ended by the reaper, not left
    # holding a slot forever.
    op.execute("UPDATE bots SET dispatched_at = created_at WHERE status != 'ready'")
    op.execute(
        "UPDATE bots SET lease_until = created_at WHERE status NOT IN ('ready', 'done', 'fatal')"
    )


def downgrade() -> None:
    with op.batch_alter_table("bots") as bots:
        bots.drop_index("ix_bots_lease_until")
        for column in (
            "stream_reconnects",
            "leave_requested_at",
            "holder",
            "lease_until",
            "dispatched_at",
        ):
            bots.drop_column(column)

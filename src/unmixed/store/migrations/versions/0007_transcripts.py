"""Transcripts: each recording's final utterances; bots that hold more than one slot.

Revision ID: 0007_transcripts
Revises: 0006_leases
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_transcripts"
down_revision = "0006_leases"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("bots") as bots:
        bots.add_column(sa.Column("slots", sa.Integer(), nullable=False, server_default="1"))
    with op.batch_alter_table("recordings") as recordings:
        recordings.add_column(sa.Column("transcript_id", sa.String(length=36), nullable=True))
        recordings.add_column(sa.Column("transcript_failure", sa.String(length=128), nullable=True))
        recordings.create_index("ix_recordings_transcript_id", ["transcript_id"], unique=True)
    op.create_table(
        "transcript_utterances",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "recording_id",
            sa.String(length=36),
            sa.ForeignKey("recordings.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("started", sa.Float(), nullable=False),
        sa.Column("participant", sa.JSON(), nullable=False),
        sa.Column("words", sa.JSON(), nullable=False),
    )
    op.create_index(
        "ix_transcript_utterances_recording_id", "transcript_utterances", ["recording_id"]
    )


def downgrade() -> None:
    with op.batch_alter_table("bots") as bots:
        bots.drop_column("slots")
    op.drop_table("transcript_utterances")
    with op.batch_alter_table("recordings") as recordings:
        recordings.drop_index("ix_recordings_transcript_id")
        recordings.drop_column("transcript_failure")
        recordings.drop_column("transcript_id")

"""Bots made straight in the store, for tests of what happens to them there."""

from datetime import UTC, datetime, timedelta

from unmixed.store import ENVIRONMENT_KEY, Bots
from unmixed.wire.bots import BotCreate

NOBODYS_MEETING = "testbed://127.0.0.1:1/1"
"""A meeting nobody hosts: a bot that ever tries to join it ends `fatal` at once."""


def new_bot(bots: Bots, meeting_url: str = NOBODYS_MEETING, *, join_in: float | None = None) -> str:
    """A `ready` bot for `meeting_url`, due now or `join_in` seconds from now; its id."""
    join_at = None if join_in is None else datetime.now(UTC) + timedelta(seconds=join_in)
    request = BotCreate(meeting_url=meeting_url, join_at=join_at)
    return bots.create(request, request.parsed_meeting_url(), ENVIRONMENT_KEY).id

"""What every launcher is: the one thing the scheduler hands a bot to.

The bot itself is always `python -m unmixed.bots.runner BOT_ID`, wherever it
runs. A launcher only decides where that process runs and how many may run at
once; everything the bot and the API say to each other goes through the store
(statuses, leases, commands), never through the launcher.
"""

from dataclasses import dataclass
from typing import Protocol

from unmixed.wire.meeting_url import Platform


class LaunchFailed(Exception):
    """The launcher could not hand the bot over: nothing will run it."""


class CapacityUnknown(Exception):
    """The launcher cannot count its slots right now (the registry is out of reach)."""


@dataclass(frozen=True)
class BotJob:
    """A bot to start: its id, and its platform, which says what it needs
    (a browser bot needs about ten times the memory and CPU of a native one)."""

    bot_id: str
    platform: Platform
    transcribes: bool = False
    """It runs a Whisper model as well: a few hundred MiB more, and CPU while people talk."""


class Launcher(Protocol):
    """Starts bots somewhere. Made and closed by the process that schedules bots."""

    async def launch(self, job: BotJob) -> None:
        """Hand the bot over; it claims itself in the store once it runs.
        `LaunchFailed` if it could not be handed over."""

    async def capacity(self) -> int | None:
        """How many bots may run at once in all (None: no limit known here, as on a
        cluster that places what it can and queues the rest); `CapacityUnknown` if it
        cannot be counted now."""

    async def close(self) -> None:
        """Stop launching. A launcher whose bots are its own children (`local`) asks
        them to leave and waits; the others leave their bots running."""

"""Ending bots whose process is gone, whoever notices first: every API and worker
sweeps the store every few seconds.

A lease that ran out means the bot's process stopped renewing it. But after the
store itself was out of reach, every lease has run out, and the bots only need a
moment to renew: so a reaper ends nothing until it has reached the store without
a break for a whole lease. A store outage, or a failover, ends no meeting.
"""

import time
from datetime import timedelta

import structlog
from sqlalchemy.exc import SQLAlchemyError

from unmixed.bots.lease import LEASE
from unmixed.store.leases import Leases

SWEEP_SECONDS = 5.0
"""How often expired leases are looked for: with a 15 s lease, a dead bot is ended
within about 20 s."""
START_WITHIN = timedelta(minutes=10)
"""How long a dispatched bot may wait for a process to claim it (a worker slot to free
up, a Kubernetes node to be found) before its launch is taken for lost."""

log = structlog.get_logger(__name__)


class Reaper:
    def __init__(self, leases: Leases, *, trust_after: timedelta = LEASE) -> None:
        """`trust_after`: how long the store must have been reachable without a break
        before an expired lease is taken to mean a dead bot."""
        self._leases = leases
        self._trust_after = trust_after.total_seconds()
        self._reachable_since: float | None = None

    def sweep(self) -> list[str]:
        """End the bots whose lease ran out and those dispatched long ago that no process
        ever claimed; the ones this sweep ended. Raises what the store raised."""
        try:
            return self._sweep()
        except SQLAlchemyError:
            self._reachable_since = None
            raise

    def _sweep(self) -> list[str]:
        expired = self._leases.expired()
        if self._reachable_since is None:
            self._reachable_since = time.monotonic()
        if time.monotonic() - self._reachable_since < self._trust_after:
            return []
        lost = [bot_id for bot_id in expired if self._leases.declare_lost(bot_id)]
        for bot_id in lost:
            log.error("bot's lease expired: its process or machine is gone", bot=bot_id)
        unstarted = [
            bot_id
            for bot_id in self._leases.never_started(START_WITHIN)
            if self._leases.declare_never_started(bot_id, START_WITHIN)
        ]
        for bot_id in unstarted:
            log.error("bot was dispatched but never started", bot=bot_id)
        return lost + unstarted

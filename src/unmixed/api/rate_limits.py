"""Per-key request rates, as Recall limits them: 60 a minute for creating and
listing bots, 300 for everything else. Counted in memory by `limits`, which is
right for one API process; several processes would share a Redis storage."""

import math
import time
from enum import StrEnum

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from unmixed.settings import Settings
from unmixed.store import Owner


class RouteClass(StrEnum):
    CREATE = "create"
    LIST = "list"
    OTHER = "other"


class RateLimits:
    def __init__(self, settings: Settings) -> None:
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._rates: dict[RouteClass, RateLimitItem] = {
            RouteClass.CREATE: parse(settings.rate_limit_create),
            RouteClass.LIST: parse(settings.rate_limit_list),
            RouteClass.OTHER: parse(settings.rate_limit_other),
        }

    def hit(self, route: RouteClass, owner: Owner) -> int | None:
        """Count one request; None if it may go ahead, else the seconds to wait."""
        rate = self._rates[route]
        who = "environment" if owner.key_id is None else str(owner.key_id)
        if self._limiter.hit(rate, route, who):
            return None
        reset_at = self._limiter.get_window_stats(rate, route, who).reset_time
        return max(1, math.ceil(reset_at - time.time()))

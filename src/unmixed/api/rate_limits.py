"""Per-key request rates, as Recall limits them: 60 a minute for creating and
listing bots, 300 for everything else. Counted by `limits`: in this process's
memory by default, in Redis when it is configured, so that every API replica
behind a load balancer counts against the same budget. Asynchronously either
way: a slow Redis delays the requests it counts, never the others."""

import math
import time
from enum import StrEnum

import structlog
from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from redis.exceptions import RedisError

from unmixed.settings import Settings
from unmixed.store import Owner

KEY_PREFIX = "unmixed-rates"

log = structlog.get_logger(__name__)


class RouteClass(StrEnum):
    CREATE = "create"
    LIST = "list"
    OTHER = "other"


class RateLimits:
    def __init__(self, settings: Settings) -> None:
        storage: Storage = MemoryStorage()
        if settings.redis_url is not None:
            storage = RedisStorage(
                "async+" + settings.redis_url.get_secret_value(),
                implementation="redispy",
                key_prefix=KEY_PREFIX,
            )
        self._limiter = MovingWindowRateLimiter(storage)
        self._rates: dict[RouteClass, RateLimitItem] = {
            RouteClass.CREATE: parse(settings.rate_limit_create),
            RouteClass.LIST: parse(settings.rate_limit_list),
            RouteClass.OTHER: parse(settings.rate_limit_other),
        }

    async def hit(self, route: RouteClass, owner: Owner) -> int | None:
        """Count one request; None if it may go ahead, else the seconds to wait."""
        rate = self._rates[route]
        who = "environment" if owner.key_id is None else str(owner.key_id)
        try:
            if await self._limiter.hit(rate, route, who):
                return None
            reset_at = (await self._limiter.get_window_stats(rate, route, who)).reset_time
        except RedisError as error:  # the count is out of reach: serve rather than refuse all
            log.warning("rate limits unavailable; request let through", error=str(error))
            return None
        return max(1, math.ceil(reset_at - time.time()))

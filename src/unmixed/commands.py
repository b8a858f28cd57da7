"""Instant notice of a bot command, through Redis pub/sub where Redis is configured.

A command itself is a row in the store (`Leases.request_leave`), which every bot
polls, so no command depends on this: a notice only saves the bot the wait for
its next poll. It says which bot, nothing else; the bot reads the store.
"""

import contextlib
from collections.abc import AsyncIterator

import structlog
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

CHANNEL_PREFIX = "unmixed:bot-commands:"

log = structlog.get_logger(__name__)


def channel(bot_id: str) -> str:
    return CHANNEL_PREFIX + bot_id


class CommandNotices:
    """The API's end: announce that a bot has a command waiting in the store."""

    def __init__(self, redis_url: str | None) -> None:
        self._redis = Redis.from_url(redis_url) if redis_url else None

    async def announce(self, bot_id: str) -> None:
        """Best effort: if Redis is down, the bot finds the command at its next poll."""
        if self._redis is None:
            return
        try:
            await self._redis.publish(channel(bot_id), "command")
        except RedisError as error:
            log.warning("could not announce a bot command; the bot will poll", error=str(error))

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()


@contextlib.asynccontextmanager
async def command_notices(redis_url: str | None, bot_id: str) -> AsyncIterator[PubSub | None]:
    """The bot's end: a subscription to its own channel (None without Redis, or
    when Redis cannot be reached: the bot then relies on polling alone)."""
    if redis_url is None:
        yield None
        return
    redis = Redis.from_url(redis_url)
    subscription = redis.pubsub(ignore_subscribe_messages=True)
    try:
        try:
            await subscription.subscribe(channel(bot_id))
        except RedisError as error:
            log.warning("no instant commands; polling the store only", error=str(error))
            yield None
            return
        yield subscription
    finally:
        with contextlib.suppress(RedisError):
            await subscription.aclose()
        await redis.aclose()

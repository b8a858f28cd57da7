"""When a webhook that failed is tried again: 1 s, doubling, at most an hour apart,
until the retry window (24 h by default, Recall's) is over."""

from datetime import datetime, timedelta

FIRST_DELAY = timedelta(seconds=1)
MAX_DELAY = timedelta(hours=1)


def retry_delay(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed try."""
    if attempts > 20:  # 2**20 s is far past the cap; no need to compute it
        return MAX_DELAY
    return min(FIRST_DELAY * 2 ** (attempts - 1), MAX_DELAY)


def next_attempt(
    created_at: datetime, attempts: int, now: datetime, window: timedelta
) -> datetime | None:
    """When to try an event again after `attempts` failed tries, or None when that
    would be past its window: then it has failed for good."""
    at = now + retry_delay(attempts)
    return at if at <= created_at + window else None

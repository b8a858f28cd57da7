"""Callbacks the SDK calls must never raise: an exception escaping into the SDK's
C++ becomes `std::terminate` and the process aborts."""

import functools
from collections.abc import Callable
from typing import Any

import structlog

log = structlog.get_logger(__name__)


def guarded(callback: Callable[..., None]) -> Callable[..., None]:
    """`callback`, with any exception logged (with its traceback) and swallowed."""

    @functools.wraps(callback)
    def call(*args: Any) -> None:
        try:
            callback(*args)
        except Exception:
            log.exception("a Zoom SDK callback failed", callback=callback.__name__)

    return call

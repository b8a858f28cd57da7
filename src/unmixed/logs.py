"""Structured logs to stderr, one line per event, for every unmixed process.

Two promises hold for every line, whoever logs it (our code, uvicorn, aiortc):

- No secret gets out. One redaction step, the last before rendering, removes
  URL query strings and userinfo, `Authorization`-style tokens, our key and
  secret formats, and every value registered with `register_secret` (the
  configured API key, database password, a bot's meeting password).
- Logging never stalls the event loop. Records are handed to a queue and
  rendered and written by a thread of their own; a traceback is rendered
  plainly, without local variables (which hold headers and settings).
"""

import atexit
import contextlib
import logging
import logging.handlers
import queue
import re
import sys
import threading
from collections.abc import Mapping
from typing import Any

import structlog

REDACTED = "[redacted]"

_URL = re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.-]*://)([^\s'\"<>?#]*)([?#][^\s'\"<>]*)?")
_TOKENS = re.compile(
    r"(?i)\b(token|bearer|basic)(\s+)[A-Za-z0-9._~+/=-]{6,}"
    r"|\b(?:umx|whsec)_[A-Za-z0-9_+/=-]+"
)
_SECRET_FIELDS = re.compile(r"(?i)(password|secret|token|api_key|authorization|pin)$")

_registered: frozenset[str] = frozenset()
"""Replaced, never changed in place: the writer's thread reads it while others register."""
_registering = threading.Lock()
_listener: logging.handlers.QueueListener | None = None


def register_secret(value: str | None) -> None:
    """Never log `value`, wherever it turns up (too short a value would hide too much)."""
    global _registered
    if value and len(value) >= 4:
        with _registering:
            _registered = _registered | {value}


def _redact_url(match: re.Match[str]) -> str:
    scheme, rest, query = match.groups()
    authority, slash, path = rest.partition("/")
    host = authority.rpartition("@")[2]
    return f"{scheme}{host}{slash}{path}{'?' + REDACTED if query else ''}"


def redact(text: str) -> str:
    """`text` with every secret this module knows of replaced by `[redacted]`."""
    for secret in _registered:
        text = text.replace(secret, REDACTED)
    text = _URL.sub(_redact_url, text)
    return _TOKENS.sub(lambda m: f"{m[1]}{m[2]}{REDACTED}" if m[1] else REDACTED, text)


def _redacted(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, bytes | bytearray):
        return redact(bytes(value).decode("utf-8", errors="replace"))
    if isinstance(value, Mapping):
        return {key: _redacted_field(str(key), item) for key, item in value.items()}
    if isinstance(value, list | tuple | set):
        return [_redacted(item) for item in value]
    return value


def _redacted_field(name: str, value: Any) -> Any:
    return REDACTED if _SECRET_FIELDS.search(name) and value else _redacted(value)


def redact_event(
    _: Any, __: str, event_dict: structlog.types.EventDict
) -> structlog.types.EventDict:
    """The structlog processor: applied to every field, the traceback included."""
    return {
        key: value if key.startswith("_") else _redacted_field(key, value)
        for key, value in event_dict.items()
    }


class _Writer(logging.StreamHandler):
    """Writes rendered lines; if rendering fails, says so without the record itself
    (the standard handler would print the raw, unredacted event)."""

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 (logging's name)
        with contextlib.suppress(Exception):
            self.stream.write(f"a log line from {record.name} could not be written\n")


class _HandOff(logging.handlers.QueueHandler):
    """Queue the record as it is; the listener's thread renders it."""

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        return record


def _record_context(
    _: Any, __: str, event_dict: structlog.types.EventDict
) -> structlog.types.EventDict:
    """Context bound in the thread that logged, carried across the queue."""
    record = event_dict.get("_record")
    context = getattr(record, "unmixed_context", None) or {}
    return {**context, **event_dict}


def _capture_context(record: logging.LogRecord) -> bool:
    record.unmixed_context = structlog.contextvars.get_contextvars()
    return True


def _exception_now(
    _: Any, __: str, event_dict: structlog.types.EventDict
) -> structlog.types.EventDict:
    """`log.exception` means the exception being handled here, not in the writer's thread."""
    if event_dict.get("exc_info") is True:
        event_dict["exc_info"] = sys.exc_info()
    return event_dict


def configure_logging(level: int = logging.INFO, *, process: str) -> None:
    """Route structlog and stdlib logging through one redacting renderer, tagged `process`."""
    global _listener
    stamped: list[structlog.types.Processor] = [
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="%H:%M:%S.%f", utc=False),
    ]
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.dev.set_exc_info,
            _exception_now,
            *stamped,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.make_filtering_bound_logger(level),
        cache_logger_on_first_use=True,
    )
    writer = _Writer(sys.stderr)
    writer.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                redact_event,
                structlog.dev.ConsoleRenderer(colors=False),
            ],
            foreign_pre_chain=[_record_context, *stamped],
        )
    )
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    hand_off = _HandOff(records)
    hand_off.addFilter(_capture_context)
    if _listener is not None:
        _listener.stop()
    _listener = logging.handlers.QueueListener(records, writer)
    _listener.start()
    atexit.register(flush_logs)
    root = logging.getLogger()
    root.handlers[:] = [hand_off]
    root.setLevel(level)
    structlog.contextvars.bind_contextvars(process=process)
    for noisy in ("aioice", "aiortc", "websockets", "httpx", "httpcore", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


def flush_logs() -> None:
    """Write out every queued line; call before a process ends without running atexit."""
    global _listener
    if _listener is not None:
        _listener.stop()
        _listener = None

"""Who is in the meeting, read from the web client's own participant list.

A site's roster is described by a `RosterSpec`; `js/roster.js`, given that
spec, watches the page and reports a whole snapshot whenever anything in it
changes (a join, a leave, a mute icon, a speaking ring), the moment it changes.
The page is not trusted: a snapshot is cut to a size no real meeting reaches.
"""

from dataclasses import dataclass
from importlib import resources
from typing import Any

MAX_ENTRIES = 500
"""Teams and Meet cap meetings with video at 300 and 500 people; more is not a roster."""
MAX_TEXT = 256
"""Longer names and keys are cut here (Teams and Meet cap names far below)."""


@dataclass(frozen=True)
class RosterEntry:
    """One participant as the page shows them."""

    key: str
    name: str
    muted: bool
    speaking: bool
    host: bool
    track: str | None = None
    source: str | None = None

    @classmethod
    def from_page(cls, fields: dict[str, Any]) -> "RosterEntry":
        return cls(
            key=_text(fields["key"]),
            name=_text(fields.get("name") or ""),
            muted=fields.get("muted") is True,
            speaking=fields.get("speaking") is True,
            host=fields.get("host") is True,
            track=_optional_text(fields.get("track")),
            source=_optional_text(fields.get("source")),
        )


def _text(value: object) -> str:
    return str(value)[:MAX_TEXT]


def _optional_text(value: object) -> str | None:
    return None if value is None or value == "" else _text(value)


def roster_source() -> str:
    """The observer's JavaScript: a function, `watchRoster(spec, report)`."""
    return resources.files("unmixed.platforms.browser").joinpath("js/roster.js").read_text()


def parse_snapshot(entries: object) -> list[RosterEntry]:
    """A snapshot the observer sent; entries that make no sense are skipped."""
    if not isinstance(entries, list):
        return []
    parsed = []
    for fields in entries[:MAX_ENTRIES]:
        if isinstance(fields, dict) and fields.get("key"):
            parsed.append(RosterEntry.from_page(fields))
    return parsed

"""Who is in the meeting, read from the web client's own participant list.

A site's roster is described by a `RosterSpec`; one script, given that spec,
watches the page and reports a whole snapshot whenever anything in it changes
(a join, a leave, a mute icon, a speaking ring), the moment it changes.
"""

import dataclasses
import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

from playwright.async_api import Page

from unmixed.platforms.browser.profiles import RosterSpec

SPEC_PLACEHOLDER = "__UNMIXED_ROSTER_SPEC__"


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
            key=str(fields["key"]),
            name=str(fields.get("name") or ""),
            muted=bool(fields.get("muted")),
            speaking=bool(fields.get("speaking")),
            host=bool(fields.get("host")),
            track=_optional_text(fields.get("track")),
            source=_optional_text(fields.get("source")),
        )


def _optional_text(value: object) -> str | None:
    return None if value is None or value == "" else str(value)


def roster_script(spec: RosterSpec) -> str:
    """The observer script for `spec`, to install with `add_init_script`."""
    source = resources.files("unmixed.platforms.browser").joinpath("js/roster.js").read_text()
    return source.replace(SPEC_PLACEHOLDER, json.dumps(dataclasses.asdict(spec)))


def parse_snapshot(entries: object) -> list[RosterEntry]:
    """A snapshot the observer sent; entries that make no sense are skipped."""
    if not isinstance(entries, list):
        return []
    parsed = []
    for fields in entries:
        if isinstance(fields, dict) and fields.get("key"):
            parsed.append(RosterEntry.from_page(fields))
    return parsed


async def read_roster(page: Page) -> list[RosterEntry]:
    """The roster now, from a page where `roster_script` is installed."""
    return parse_snapshot(await page.evaluate("() => window.__unmixedRoster()"))

"""Meeting URLs: which platform a link belongs to, and the meeting it names.

Recall answers `meeting_url` as an object, `{"meeting_id", "meeting_password",
"platform"}`; this module turns the links people paste into that object. It knows
URL shapes only, never how to join, so the API can use it without importing a
platform adapter.
"""

import ipaddress
import re
from enum import StrEnum
from urllib.parse import SplitResult, parse_qs, urlsplit

from pydantic import BaseModel


class Platform(StrEnum):
    ZOOM = "zoom"
    GOOGLE_MEET = "google_meet"
    MICROSOFT_TEAMS = "microsoft_teams"
    TESTBED = "testbed"
    TESTBED_WEB = "testbed_web"
    """The testbed's web meeting page, which a bot joins through Chromium."""

    @property
    def is_testbed(self) -> bool:
        return self in (Platform.TESTBED, Platform.TESTBED_WEB)

    @property
    def needs_browser(self) -> bool:
        """Joined through Chromium: about ten times a native bot's memory."""
        return self in (Platform.TESTBED_WEB, Platform.MICROSOFT_TEAMS, Platform.GOOGLE_MEET)


class MeetingUrlError(ValueError):
    """The text is not a link to a meeting on a platform unmixed knows."""


class MeetingUrl(BaseModel):
    meeting_id: str
    meeting_password: str | None = None
    platform: Platform


MAX_PART_LENGTH = 200
"""The longest meeting id or password stored (as the store's columns hold them): no
platform's is near it, and a longer one is refused here, not truncated or failed later."""
TESTBED_SCHEME = "testbed"
TESTBED_ROOM_MAX_DIGITS = 18
"""Janus room ids are unsigned 64-bit; 18 digits always fit."""
_TESTBED_WEB_PATH = re.compile(r"^/(videoroom|audiobridge)/([0-9]{1,18})/?$")
_MEET_CODE = re.compile(r"^/([a-z]{3}-[a-z]{4}-[a-z]{3})/?$")
_ZOOM_MEETING_ID = re.compile(r"[0-9]{9,11}")
_ZOOM_JOIN_PATH = re.compile(r"^/(?:j|w|s|wc(?:/join)?|my)/([0-9]{9,11})(?:/.*)?$")


def parse_meeting_url(url: str) -> MeetingUrl:
    """Recognise a meeting link, or raise `MeetingUrlError` saying what is wrong with it."""
    meeting = _recognised(url)
    if len(meeting.meeting_id) > MAX_PART_LENGTH:
        raise MeetingUrlError(f"the meeting's id is longer than {MAX_PART_LENGTH} characters")
    if meeting.meeting_password is not None and len(meeting.meeting_password) > MAX_PART_LENGTH:
        raise MeetingUrlError(f"the meeting's password is longer than {MAX_PART_LENGTH} characters")
    return meeting


def _recognised(url: str) -> MeetingUrl:
    parts = _split(url.strip())
    host = (parts.hostname or "").lower()
    query = {key: values[0] for key, values in parse_qs(parts.query).items()}
    if parts.scheme == TESTBED_SCHEME:
        return _testbed(parts, host, query)
    if parts.scheme == "zoommtg":
        return _zoom_app_link(query)
    if parts.scheme not in ("http", "https") or not host:
        raise MeetingUrlError("must be an http(s) meeting link or a testbed:// URL")
    if is_loopback_host(host):
        return _testbed_web(parts, query)
    if host == "zoom.us" or host.endswith(".zoom.us"):
        return _zoom_web(parts.path, query)
    if host == "meet.google.com":
        return _google_meet(parts.path)
    if host in ("teams.microsoft.com", "teams.live.com"):
        return _teams(parts.path)
    raise MeetingUrlError(f"{host} is not a Zoom, Google Meet, Microsoft Teams or testbed host")


def _split(url: str) -> SplitResult:
    if not url.isprintable() or " " in url:
        raise MeetingUrlError("must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (parsing the port is what validates it)
    except ValueError as error:
        raise MeetingUrlError("the link's host or port is malformed") from error
    return parts


def is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _testbed(parts: SplitResult, host: str, query: dict[str, str]) -> MeetingUrl:
    room = parts.path.strip("/")
    shape = "a testbed URL looks like testbed://127.0.0.1:8088/1234[?pin=...]"
    if not host or parts.port is None or not room.isdecimal() or not room.isascii():
        raise MeetingUrlError(shape)
    if len(room) > TESTBED_ROOM_MAX_DIGITS or int(room) == 0:
        raise MeetingUrlError(
            f"a testbed room is a number from 1 to {TESTBED_ROOM_MAX_DIGITS} digits"
        )
    if parts.username is not None or parts.password is not None:
        raise MeetingUrlError("a testbed URL carries no user or password; put a pin in ?pin=")
    if not is_loopback_host(host):
        raise MeetingUrlError("a testbed meeting runs on this machine: use 127.0.0.1 or localhost")
    return MeetingUrl(meeting_id=room, meeting_password=query.get("pin"), platform=Platform.TESTBED)


def _testbed_web(parts: SplitResult, query: dict[str, str]) -> MeetingUrl:
    match = _TESTBED_WEB_PATH.match(parts.path)
    if match is None or parts.port is None or int(match.group(2)) == 0:
        raise MeetingUrlError(
            "a testbed web meeting looks like http://127.0.0.1:8080/videoroom/1234 "
            "(or /audiobridge/1234)"
        )
    if parts.username is not None or parts.password is not None:
        raise MeetingUrlError("a testbed URL carries no user or password; put a pin in ?pin=")
    return MeetingUrl(
        meeting_id=match.group(2),
        meeting_password=query.get("pin"),
        platform=Platform.TESTBED_WEB,
    )


def _zoom_web(path: str, query: dict[str, str]) -> MeetingUrl:
    match = _ZOOM_JOIN_PATH.match(path)
    if match is None:
        raise MeetingUrlError("a Zoom link looks like https://zoom.us/j/<meeting id>?pwd=...")
    return MeetingUrl(
        meeting_id=match.group(1), meeting_password=query.get("pwd"), platform=Platform.ZOOM
    )


def _zoom_app_link(query: dict[str, str]) -> MeetingUrl:
    meeting_id = query.get("confno", "")
    if _ZOOM_MEETING_ID.fullmatch(meeting_id) is None:
        raise MeetingUrlError("a zoommtg:// link needs a numeric confno")
    return MeetingUrl(
        meeting_id=meeting_id, meeting_password=query.get("pwd"), platform=Platform.ZOOM
    )


def _google_meet(path: str) -> MeetingUrl:
    match = _MEET_CODE.match(path)
    if match is None:
        raise MeetingUrlError("a Google Meet link looks like https://meet.google.com/abc-defg-hij")
    return MeetingUrl(meeting_id=match.group(1), platform=Platform.GOOGLE_MEET)


def _teams(path: str) -> MeetingUrl:
    segments = [segment for segment in path.split("/") if segment]
    for marker in ("meetup-join", "meet"):
        if marker in segments and segments.index(marker) + 1 < len(segments):
            meeting_id = segments[segments.index(marker) + 1]
            return MeetingUrl(meeting_id=meeting_id, platform=Platform.MICROSOFT_TEAMS)
    raise MeetingUrlError("a Teams link looks like https://teams.microsoft.com/l/meetup-join/...")

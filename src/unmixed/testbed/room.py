"""Conventions of a testbed meeting: how a room is made, named and addressed.

Janus has no notion of a host or of a person's name beyond one `display`
string, so testbed participants put a small JSON object there. A display that
is not such an object (a plain Janus client) still works: it is the name.
"""

import json
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from unmixed.testbed.janus import JanusHandle
from unmixed.wire.meeting_url import TESTBED_SCHEME

AUDIO_ROOM_SETTINGS = {
    "audiocodec": "opus",
    "publishers": 64,
    "notify_joining": True,
    "audiolevel_ext": True,
    "audiolevel_event": True,
    "audio_active_packets": 25,
    "audio_level_average": 40,
}


@dataclass(frozen=True)
class Display:
    name: str
    is_host: bool = False
    is_bot: bool = False

    def encode(self) -> str:
        return json.dumps({"name": self.name, "is_host": self.is_host, "is_bot": self.is_bot})

    @classmethod
    def decode(cls, display: str | None) -> "Display":
        try:
            fields = json.loads(display or "")
        except ValueError:
            return cls(name=display or "")
        if not isinstance(fields, dict):
            return cls(name=display or "")
        return cls(
            name=str(fields.get("name", "")),
            is_host=fields.get("is_host") is True,
            is_bot=fields.get("is_bot") is True,
        )


@dataclass(frozen=True)
class RoomAddress:
    janus_url: str
    room: int
    pin: str | None = None

    def meeting_url(self) -> str:
        host = urlsplit(self.janus_url).netloc
        suffix = f"?pin={self.pin}" if self.pin else ""
        return f"{TESTBED_SCHEME}://{host}/{self.room}{suffix}"

    @classmethod
    def from_meeting_url(cls, url: str) -> "RoomAddress":
        parts = urlsplit(url)
        pin = dict(pair.split("=", 1) for pair in parts.query.split("&") if "=" in pair).get("pin")
        return cls(f"http://{parts.netloc}/janus", int(parts.path.strip("/")), pin)

    def join_fields(self) -> dict[str, object]:
        return {"room": self.room, **({"pin": self.pin} if self.pin else {})}


async def create_room(handle: JanusHandle, janus_url: str, pin: str | None = None) -> RoomAddress:
    room = secrets.randbelow(2**31 - 1) + 1
    request = {"request": "create", "room": room, **AUDIO_ROOM_SETTINGS}
    if pin:
        request["pin"] = pin
    await handle.request(request)
    return RoomAddress(janus_url, room, pin)


async def destroy_room(handle: JanusHandle, address: RoomAddress) -> None:
    """End the meeting for everyone in it, the way a host ends a call."""
    await handle.request({"request": "destroy", **address.join_fields()})


async def moderate(handle: JanusHandle, address: RoomAddress, feed: int, *, muted: bool) -> None:
    """Mute or unmute a publisher's audio (mid 0) for the whole room, as a host would."""
    await handle.request(
        {"request": "moderate", "id": feed, "mid": "0", "mute": muted, **address.join_fields()}
    )

"""A testbed meeting in Janus's AudioBridge: one mix for everyone, like a phone bridge.

Each listener hears a single mixed track without their own voice, so who is
speaking is known only from the room's `talking` events. Those come 100-270 ms
after a voice starts with these settings, and freeze while someone is muted.
Muting is the moderator's `mute` request, which needs the room's secret: the
room tells every participant of the change in an `event` listing them.
"""

import secrets
from dataclasses import dataclass

from aiortc.mediastreams import MediaStreamTrack

from unmixed.testbed.janus import JanusHandle, JsonObject
from unmixed.testbed.participant import NativeParticipant
from unmixed.testbed.room import Display

PLUGIN = "janus.plugin.audiobridge"

BRIDGE_SETTINGS = {
    "sampling_rate": 48_000,
    "audiolevel_ext": True,
    "audiolevel_event": True,
    "audio_active_packets": 10,
    "audio_level_average": 60,
    "default_prebuffering": 2,
}


@dataclass(frozen=True)
class BridgeAddress:
    janus_url: str
    room: int
    secret: str
    pin: str | None = None

    def join_fields(self) -> dict[str, object]:
        return {"room": self.room, **({"pin": self.pin} if self.pin else {})}


async def create_bridge(
    handle: JanusHandle, janus_url: str, pin: str | None = None
) -> BridgeAddress:
    address = BridgeAddress(
        janus_url, secrets.randbelow(2**31 - 1) + 1, secrets.token_urlsafe(12), pin
    )
    request = {"request": "create", "secret": address.secret, **address.join_fields()}
    await handle.request({**request, **BRIDGE_SETTINGS})
    return address


async def destroy_bridge(handle: JanusHandle, address: BridgeAddress) -> None:
    """End the meeting for everyone in it, the way a host ends a call."""
    await handle.request({"request": "destroy", "secret": address.secret, **address.join_fields()})


async def set_muted(handle: JanusHandle, address: BridgeAddress, feed: int, *, muted: bool) -> None:
    """Mute or unmute someone for the whole room, as its moderator."""
    await handle.request(
        {
            "request": "mute" if muted else "unmute",
            "id": feed,
            "secret": address.secret,
            **address.join_fields(),
        }
    )


class BridgeParticipant(NativeParticipant):
    """A native participant in an AudioBridge room: it sends its voice into the mix.

    The first `configure` must not carry `muted`; a participant who starts muted
    is muted by the moderator before any packet can reach the mix."""

    plugin = PLUGIN

    def __init__(self, address: BridgeAddress, display: Display, track: MediaStreamTrack) -> None:
        super().__init__(address.janus_url, display, track)
        self.address = address

    def _join_request(self) -> JsonObject:
        return {"request": "join", "display": self.display.encode(), **self.address.join_fields()}

    def _configure_request(self) -> JsonObject:
        return {"request": "configure"}

    async def _set_muted(self, muted: bool) -> None:
        await set_muted(self._require_handle(), self.address, self._require_feed(), muted=muted)

"""The testbed's own web meeting page, in its two kinds of room.

The page is ours (served by `unmixed testbed`), so its selectors are a contract
rather than a guess: the VideoRoom page names, for each person, the `mid` of
their track in its one subscriber connection; the AudioBridge page receives one
mix and marks whoever Janus says is talking.
"""

from unmixed.platforms.browser.profiles import (
    Attribution,
    JoinScreens,
    PageProfile,
    RosterSpec,
    Screen,
)
from unmixed.wire.meeting_url import Platform

SCREENS = JoinScreens(
    shown_by={
        Screen.PRE_JOIN: "#prejoin",
        Screen.IN_CALL: "#call",
        Screen.NOT_FOUND: "#not-found",
        Screen.CANNOT_JOIN: "#cannot-join",
        Screen.ENDED: "#ended",
        Screen.REMOVED: "#removed",
    },
    name_input="input#name",
    join_button="button#join",
    microphone_off="button#mic-off:not(.off)",
    leave_button="button#leave",
)

ROSTER = RosterSpec(
    entry="#roster li.participant",
    key_attribute="data-key",
    name=".name",
    muted_marker=".muted",
    speaking_marker=".speaking",
    host_marker=".host",
    own_marker=".self",
    track_attribute="data-mid",
)

VIDEOROOM = PageProfile(
    platform=Platform.TESTBED_WEB,
    screens=SCREENS,
    roster=ROSTER,
    attribution=Attribution.PER_TRACK,
)
AUDIOBRIDGE = PageProfile(
    platform=Platform.TESTBED_WEB,
    screens=SCREENS,
    roster=ROSTER,
    attribution=Attribution.ACTIVE_SPEAKER,
)

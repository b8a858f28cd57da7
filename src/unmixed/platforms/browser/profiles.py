"""What the browser bot needs to know about one meeting site's web client.

A site is described, not programmed: which screen is showing (by a selector
that is visible only there), where to type the bot's name and what to click
to ask in, how its roster marks a name, a mute, a speaker and the bot itself,
and how its audio relates to people. The join flow and the roster reader are
the same code for every site; only these descriptions differ.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from unmixed.wire.meeting_url import Platform


class Screen(StrEnum):
    """The screens of a web meeting client that the join flow tells apart."""

    PRE_JOIN = "pre_join"
    """The name field and the join ("Ask to join", "Join now") button."""
    LOBBY = "lobby"
    """Waiting for someone in the meeting to let the bot in."""
    IN_CALL = "in_call"
    DENIED = "denied"
    """Someone in the meeting refused to let the bot in."""
    REMOVED = "removed"
    """Someone removed the bot from the call."""
    ENDED = "ended"
    """The meeting ended for everyone."""
    CANNOT_JOIN = "cannot_join"
    """The site will not let the bot in at all ("You can't join this call")."""
    NOT_FOUND = "not_found"
    """The link names no meeting."""


APOSTROPHE = "['\u2019]"
"""Sites write "can't" with a typographic apostrophe in some builds and a plain one
in others; wording patterns accept both."""

WORDED_SCREENS = (
    Screen.LOBBY,
    Screen.DENIED,
    Screen.REMOVED,
    Screen.ENDED,
    Screen.CANNOT_JOIN,
    Screen.NOT_FOUND,
)
"""The screens real sites tell apart only by what they say."""


def shown_by_wording(text_elements: str) -> dict[Screen, str]:
    """`shown_by` for `WORDED_SCREENS`: the elements a site's wording sits in; each
    screen's `shown_text` then picks its sentence."""
    return dict.fromkeys(WORDED_SCREENS, text_elements)


class Attribution(StrEnum):
    """How the site's remote audio tracks relate to the people in the meeting."""

    PER_TRACK = "per_track"
    """Each remote track is one person for as long as it lives (an SFU page)."""
    CONTRIBUTING_SOURCE = "contributing_source"
    """A few tracks carry different people over time; each packet's contributing
    source (CSRC) says whose voice it is (Google Meet)."""
    ACTIVE_SPEAKER = "active_speaker"
    """One mixed track; the client's speaking indicators say who is talking (Teams)."""


@dataclass(frozen=True)
class JoinScreens:
    """How to recognise each screen, and what to do on the pre-join screen.

    `shown_by` is plain CSS, read by a script in the page on every change; the
    controls (`name_input`, `join_button`, `microphone_off`, `leave_button`) are
    Playwright selectors, so they may name a button by its text
    (`button:has-text("Join now")`).
    """

    shown_by: Mapping[Screen, str]
    """For each screen the flow must recognise, a CSS selector visible only there."""
    name_input: str | None
    """Where to type the bot's name (None: the site asks for none)."""
    join_button: str
    microphone_off: str | None = None
    """A control that turns the bot's microphone off before it joins, if the site has
    one; it must match only while the microphone is on."""
    leave_button: str | None = None
    """Clicked to leave politely; closing the page leaves anyway."""
    endings: Mapping[Screen, str] = field(default_factory=dict)
    """The sub_code each final screen ends the bot with, where the site has its own."""
    shown_text: Mapping[Screen, str] = field(default_factory=dict)
    """For screens that real sites tell apart only by their wording ("You can't join
    this call"): a case-insensitive JavaScript regular expression that the text an
    element matched by `shown_by` holds itself (not its children's) must match."""


@dataclass(frozen=True)
class RosterSpec:
    """How the site's participant list shows who is there, muted, speaking.

    Each `*_marker` is a CSS selector matched against the entry itself or anything
    inside it: present means true.
    """

    entry: str
    """Selects one element per participant."""
    key_attribute: str
    """An attribute of the entry that is stable for as long as they are in the call."""
    name: str
    """Selects, inside an entry, the element whose text is their name."""
    muted_marker: str | None = None
    speaking_marker: str | None = None
    host_marker: str | None = None
    own_marker: str | None = None
    """Marks the bot's own entry, which is left out."""
    track_attribute: str | None = None
    """An attribute naming their audio track's `mid`, where the page knows it."""
    source_attribute: str | None = None
    """An attribute naming the contributing source (CSRC) of their voice."""


@dataclass(frozen=True)
class PageProfile:
    """Everything site-specific about joining one platform's web client."""

    platform: Platform
    screens: JoinScreens
    roster: RosterSpec
    attribution: Attribution

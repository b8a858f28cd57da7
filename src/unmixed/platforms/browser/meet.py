"""Google Meet's web client (joined as a guest), as a `PageProfile`.

None of these selectors has been checked against the live site (nothing here
can reach it); they are what open-source Meet bots report the client shows, and
the fixture page tests/fixtures/browser/meet.html reproduces them:

- pre-join: the name field `input[aria-label="Your name"]` and the join button,
  a `button` holding a `span` "Ask to join" (attendee, noah-duncan/attendee,
  google_meet_ui_methods.py) or "Join now" (Vexa); the microphone control
  labelled "Turn off microphone" while the microphone is on (Vexa).
- lobby: "Asking to be let in" / "You'll join the call when someone lets you in"
  (Vexa's Meet selectors).
- in call: `[data-participant-id]`, which Vexa lists as shown only once admitted
  (the "Leave call" button is already there in the lobby); leaving:
  `button[aria-label="Leave call"]` (Vexa).
- denied: "Someone in the call denied your request to join" (attendee), shown
  under the same "You can't join this call" heading as a plain refusal, which
  the flow's screen order settles; can't join: "You can't join this (video)
  call" (attendee; Recall calls this `google_meet_bot_blocked`); not found:
  "Check your meeting code" / "Invalid video call name" (meeboter's notes);
  removed: "You've been removed from the meeting" (common knowledge).
- roster: People panel entries `[role="listitem"][data-participant-id]` and the
  name in `span.zWGUib` (Vexa's name selectors; an obfuscated class that can
  change with any release); `[data-self-name]` marks the bot's own entry (Vexa
  lists it; that it sits on the entry is the fixture's assumption).
- Our own guesses, with no public source: the ended wording and the mute marker.

Meet sends a few audio tracks that carry different people over time; each
packet's contributing source (CSRC) says whose voice it is
(`Attribution.CONTRIBUTING_SOURCE`). Which CSRC belongs to which participant is
not in Meet's DOM (the real client learns it from its own signalling). The
fixture states it in a `data-unmixed-csrc` attribute so the roster reader can be
tested; on the real site that attribute does not exist, and the mapping has to
come from somewhere else.
"""

from unmixed.platforms.browser.profiles import (
    APOSTROPHE,
    Attribution,
    JoinScreens,
    PageProfile,
    RosterSpec,
    Screen,
    shown_by_wording,
)
from unmixed.wire.meeting_url import Platform
from unmixed.wire.status import SubCode

TEXT = "h1, h2, div, span"
"""Where Meet's status wording sits."""

SCREENS = JoinScreens(
    shown_by={
        **shown_by_wording(TEXT),
        Screen.PRE_JOIN: "button span",
        Screen.IN_CALL: "[data-participant-id]",
    },
    shown_text={
        Screen.PRE_JOIN: r"^\s*(Ask to join|Join now)\s*$",
        Screen.LOBBY: (
            rf"Asking to be let in|You{APOSTROPHE}ll join the call when someone lets you in"
        ),
        Screen.DENIED: r"denied your request to join",
        Screen.REMOVED: rf"You{APOSTROPHE}ve been removed from the meeting",
        Screen.ENDED: r"The (call|meeting) has ended",
        Screen.CANNOT_JOIN: rf"You can{APOSTROPHE}t join this (video )?call",
        Screen.NOT_FOUND: r"Check your meeting code|Invalid video call name",
    },
    name_input='input[aria-label="Your name"]',
    join_button='button:has(span:text-matches("^(Ask to join|Join now)$"))',
    microphone_off='[aria-label="Turn off microphone"]',
    leave_button='button[aria-label="Leave call"]',
    endings={Screen.CANNOT_JOIN: SubCode.GOOGLE_MEET_BOT_BLOCKED},
)

ROSTER = RosterSpec(
    entry='[role="listitem"][data-participant-id]',
    key_attribute="data-participant-id",
    name="span.zWGUib",
    muted_marker='[data-is-muted="true"]',
    own_marker="[data-self-name]",
    source_attribute="data-unmixed-csrc",
)

PROFILE = PageProfile(
    platform=Platform.GOOGLE_MEET,
    screens=SCREENS,
    roster=ROSTER,
    attribution=Attribution.CONTRIBUTING_SOURCE,
)

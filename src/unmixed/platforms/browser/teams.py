"""Microsoft Teams' web client ("light meetings", joined as a guest), as a `PageProfile`.

None of these selectors has been checked against the live site (nothing here
can reach it); they are what open-source Teams bots report the client shows,
and the fixture page tests/fixtures/browser/teams.html reproduces them:

- pre-join: the name field `[data-tid="prejoin-display-name-input"]` and the
  microphone switch `[data-tid="toggle-mute"]` (attendee, noah-duncan/attendee,
  teams_ui_methods.py); the "Join now" button `#prejoin-join-button` /
  `[data-tid="prejoin-join-button"]` (a chromedp Teams test harness and common
  knowledge). That the switch is a checkbox, checked while the microphone is on,
  is our assumption: attendee clicks it blindly.
- lobby: "Someone will let you in shortly" (Vexa's Teams selectors; attendee has
  "...soon", so both are accepted).
- in call and leaving: `#hangup-button`, `[data-tid="hangup-main-btn"]` (Vexa).
- denied: "Sorry, but you were denied access" (Vexa); removed: "You've been
  removed from this meeting" (Vexa, with the typographic apostrophe it notes);
  ended: "Meeting ended" / "Call ended" (Vexa's removal list).
- roster: entries `[data-tid^="participantsInCall-"]` in the People panel, which
  must be open (opening it is not done here); the speaking ring
  `[data-tid="voice-level-stream-outline"][data-is-speaking="true"]` (public
  notes on Teams' DOM; on the real client the ring is on the video tile, not in
  the People panel, so reading it from an entry is the fixture's simplification).
- Our own guesses, with no public source: the "can't join" screen for meetings
  only signed-in people may join and its wording, the not-found wording, the
  roster's name, mute and self markers.

Teams sends one mixed audio track; who speaks comes from the speaking ring
(`Attribution.ACTIVE_SPEAKER`).
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

TEXT = "h1, h2, p, span, div"
"""Where Teams' status wording sits."""

SCREENS = JoinScreens(
    shown_by={
        **shown_by_wording(TEXT),
        Screen.PRE_JOIN: '#prejoin-join-button, [data-tid="prejoin-join-button"]',
        Screen.IN_CALL: '#hangup-button, [data-tid="hangup-main-btn"]',
    },
    shown_text={
        Screen.LOBBY: r"Someone will let you in (shortly|soon)",
        Screen.DENIED: r"Sorry, but you were denied access",
        Screen.REMOVED: rf"You{APOSTROPHE}ve been removed from this meeting",
        Screen.ENDED: r"^\s*(Meeting|Call) ended\s*$",
        Screen.CANNOT_JOIN: r"Only people who are signed in can join this meeting",
        Screen.NOT_FOUND: rf"We couldn{APOSTROPHE}t find this meeting",
    },
    name_input='[data-tid="prejoin-display-name-input"]',
    join_button='#prejoin-join-button, [data-tid="prejoin-join-button"]',
    microphone_off='[data-tid="toggle-mute"]:checked',
    leave_button='#hangup-button, [data-tid="hangup-main-btn"]',
    endings={Screen.CANNOT_JOIN: SubCode.MICROSOFT_TEAMS_SIGN_IN_CREDENTIALS_MISSING},
)

ROSTER = RosterSpec(
    entry='[data-tid^="participantsInCall-"]',
    key_attribute="data-tid",
    name='[data-tid="roster-item-name"]',
    muted_marker='[data-tid="roster-item-mic-off"]',
    speaking_marker='[data-tid="voice-level-stream-outline"][data-is-speaking="true"]',
    own_marker='[data-tid="roster-item-you"]',
)

PROFILE = PageProfile(
    platform=Platform.MICROSOFT_TEAMS,
    screens=SCREENS,
    roster=ROSTER,
    attribution=Attribution.ACTIVE_SPEAKER,
)

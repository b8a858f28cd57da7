"""Meeting links people paste, and what unmixed makes of them."""

import pytest

from unmixed.wire.meeting_url import MeetingUrlError, Platform, parse_meeting_url


@pytest.mark.parametrize(
    ("url", "platform", "meeting_id", "password"),
    [
        ("https://zoom.us/j/85512345678?pwd=secret", Platform.ZOOM, "85512345678", "secret"),
        ("https://acme.zoom.us/j/85512345678", Platform.ZOOM, "85512345678", None),
        ("https://zoom.us/wc/join/85512345678", Platform.ZOOM, "85512345678", None),
        ("zoommtg://zoom.us/join?confno=85512345678&pwd=x", Platform.ZOOM, "85512345678", "x"),
        ("https://meet.google.com/abc-defg-hij", Platform.GOOGLE_MEET, "abc-defg-hij", None),
        (
            "https://teams.microsoft.com/l/meetup-join/19%3ameeting_abc%40thread.v2/0",
            Platform.MICROSOFT_TEAMS,
            "19%3ameeting_abc%40thread.v2",
            None,
        ),
        ("https://teams.live.com/meet/9312345678", Platform.MICROSOFT_TEAMS, "9312345678", None),
        ("testbed://127.0.0.1:8088/1234?pin=open", Platform.TESTBED, "1234", "open"),
    ],
)
def test_recognised_links(
    url: str, platform: Platform, meeting_id: str, password: str | None
) -> None:
    meeting = parse_meeting_url(url)
    assert (meeting.platform, meeting.meeting_id, meeting.meeting_password) == (
        platform,
        meeting_id,
        password,
    )


@pytest.mark.parametrize(
    "url",
    [
        "",
        "zoom.us/j/85512345678",
        "https://zoom.us/profile",
        "https://meet.google.com/landing",
        "https://example.com/j/85512345678",
        "testbed://127.0.0.1/1234",
        "ftp://meet.google.com/abc-defg-hij",
    ],
)
def test_links_that_are_not_meetings_are_refused(url: str) -> None:
    with pytest.raises(MeetingUrlError):
        parse_meeting_url(url)

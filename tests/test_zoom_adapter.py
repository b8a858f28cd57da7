"""The Zoom adapter on its own, on the fake SDK: why a join fails (in Recall's
sub_codes and our own words), a join called off halfway, and what the process
around the SDK looks like (HOME, DISPLAY, the password printed to fd 1)."""

import asyncio
import os
import time
from pathlib import Path

import jwt
import pytest

from tests.fake_zoom_sdk import LIBC, FakeZoomSdk, Mute, Script, User
from tests.recording import Heard, MeetingRecord
from unmixed.platforms import zoom
from unmixed.platforms.base import (
    ActiveSpeaker,
    AudioStarted,
    JoinError,
    MeetingEvent,
    ParticipantJoined,
    RecordingPermission,
    WaitingRoom,
)
from unmixed.platforms.zoom import ZoomAdapter, ZoomCredentials
from unmixed.platforms.zoom.credentials import TOKEN_LIFETIME_SECONDS, sdk_jwt
from unmixed.wire.bots import ZoomOptions
from unmixed.wire.meeting_url import parse_meeting_url

PASSWORD = "pw-7f3a91c2"
MEETING = parse_meeting_url(f"https://zoom.us/j/85512345678?pwd={PASSWORD}")
CREDENTIALS = ZoomCredentials("client-id", "client-secret-0123456789abcdef0123")
ALICE = User(101, "Alice", 440.0, is_host=True)


def adapter_for(sdk: FakeZoomSdk, options: ZoomOptions | None = None) -> ZoomAdapter:
    return ZoomAdapter(MEETING, options, CREDENTIALS, sdk=sdk, main_context=sdk.main_context)


async def join_error(script: Script) -> JoinError:
    """Join the scripted meeting, which must refuse; check the SDK was cleaned up anyway."""
    sdk = FakeZoomSdk(script)
    adapter = adapter_for(sdk)
    with pytest.raises(JoinError) as refused:
        await adapter.join("Notetaker", lambda event: None, MeetingRecord().audio_inputs)
    await adapter.leave()
    assert sdk.violations == []
    assert sdk.cleaned_up
    return refused.value


@pytest.mark.parametrize(
    ("failure", "sub_code", "message"),
    [
        ("MEETING_FAIL_PASSWORD_ERR", "meeting_password_incorrect", "refused the bot's password"),
        ("MEETING_FAIL_MEETING_NOT_EXIST", "meeting_not_found", "does not exist"),
        ("MEETING_FAIL_MEETING_NOT_START", "meeting_not_started", "has not started"),
        ("CONF_FAIL_REMOVED_BY_HOST", "bot_kicked_from_call", "removed the bot"),
        ("MEETING_FAIL_MEETING_USER_FULL", "meeting_join_refused", "refused to let the bot in"),
    ],
)
async def test_a_failed_join_says_why_in_our_words(
    failure: str, sub_code: str, message: str
) -> None:
    error = await join_error(Script(users=[ALICE], join_failure=failure))
    assert error.sub_code == sub_code
    assert message in str(error)


@pytest.mark.parametrize(
    ("auth", "sub_code"),
    [
        ("AUTHRET_JWTTOKENWRONG", "zoom_invalid_signature"),
        ("AUTHRET_KEYORSECRETWRONG", "zoom_invalid_signature"),
        ("AUTHRET_KEYORSECRETEMPTY", "zoom_sdk_credentials_missing"),
        ("AUTHRET_UNKNOWN", "zoom_auth_failed"),
        ("AUTHRET_NETWORKISSUE", "zoom_auth_failed"),
        ("AUTHRET_OVERTIME", "zoom_auth_failed"),
        ("AUTHRET_SERVICE_BUSY", "zoom_auth_failed"),
        ("AUTHRET_ACCOUNTNOTENABLESDK", "zoom_auth_failed"),
    ],
)
async def test_zooms_answer_on_the_app_decides_the_sub_code(auth: str, sub_code: str) -> None:
    error = await join_error(Script(users=[ALICE], auth=auth))
    assert error.sub_code == sub_code
    assert "AUTHRET" not in str(error)


@pytest.mark.parametrize(
    ("token", "sub_code"),
    [("", "zoom_sdk_credentials_missing"), ("not-a-jwt", "zoom_invalid_signature")],
)
async def test_a_token_the_sdk_refuses_locally(
    token: str, sub_code: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(zoom.adapter, "sdk_jwt", lambda credentials: token)
    error = await join_error(Script(users=[ALICE]))
    assert error.sub_code == sub_code


async def test_no_answer_from_zoom_is_a_join_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(zoom.adapter, "AUTH_SECONDS", 0.3)
    error = await join_error(Script(users=[ALICE], auth=None))
    assert error.sub_code == "zoom_join_timeout"


def test_the_jwt_is_signed_with_the_secret_and_lives_long_enough() -> None:
    now = int(time.time())
    claims = jwt.decode(sdk_jwt(CREDENTIALS, now), CREDENTIALS.client_secret, algorithms=["HS256"])
    assert claims["appKey"] == "client-id"
    assert claims["iat"] == now
    assert claims["tokenExp"] == claims["exp"] == now + TOKEN_LIFETIME_SECONDS
    assert TOKEN_LIFETIME_SECONDS >= 1800 + 600, "the SDK refuses a tokenExp under 30 min ahead"
    assert "client-secret" not in repr(CREDENTIALS)


async def test_a_join_called_off_in_the_waiting_room_leaves_cleanly() -> None:
    sdk = FakeZoomSdk(Script(users=[ALICE], waiting_room=30))
    adapter = adapter_for(sdk)
    waiting = asyncio.Event()

    def on_event(event: MeetingEvent) -> None:
        if isinstance(event, WaitingRoom):
            waiting.set()

    joining = asyncio.create_task(adapter.join("Notetaker", on_event, MeetingRecord().audio_inputs))
    async with asyncio.timeout(5):
        await waiting.wait()
    joining.cancel()
    with pytest.raises(asyncio.CancelledError):
        await joining
    await adapter.leave()
    assert sdk.meeting.left_by_bot
    assert sdk.cleaned_up
    assert sdk.violations == []


async def events_over(sdk: FakeZoomSdk, seconds: float) -> list[MeetingEvent | Heard]:
    """Join the fake meeting, stay `seconds` (its script plays in real time), leave; what
    the adapter reported, once the fake confirms the SDK was used by its rules."""
    adapter = adapter_for(sdk)
    record = MeetingRecord()
    await adapter.join("Notetaker", record.on_event, record.audio_inputs)
    await asyncio.sleep(seconds)
    await adapter.leave()
    assert sdk.violations == []
    return record.reports


async def test_events_arrive_on_the_loop_and_the_bots_own_audio_is_dropped() -> None:
    sdk = FakeZoomSdk(
        Script(users=[ALICE, User(102, "Bob", 660.0, muted=True)], actions=[Mute(0.5, 102, False)])
    )
    events = await events_over(sdk, 1.0)
    joined = [e.participant.key for e in events if isinstance(e, ParticipantJoined)]
    assert joined == ["101", "102"]
    started = [e.key for e in events if isinstance(e, AudioStarted)]
    assert started == ["101", "102"]
    assert RecordingPermission(granted=True, asked=True) in events
    heard = {e.key for e in events if isinstance(e, Heard)}
    assert heard == {"101", "102"}
    frame = next(e.frame for e in events if isinstance(e, Heard))
    assert frame.sample_rate == 32000
    assert frame.samples.shape == (320, 1)
    assert sdk.meeting.frames_sent[16778240] > 0, "the bot's own audio was offered, and dropped"


async def test_the_password_never_reaches_stdout_and_the_process_is_put_back(
    capfd: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    home, display = os.environ.get("HOME"), os.environ.get("DISPLAY")
    sdk = FakeZoomSdk(Script(users=[ALICE]))
    options = ZoomOptions(zak_token="zak-5d1e8b77", obf_token="obf-c0ffee42")
    adapter = adapter_for(sdk, options)
    seen: dict[str, str | None] = {}

    def during(event: MeetingEvent) -> None:
        seen.setdefault("home", os.environ.get("HOME"))
        seen.setdefault("display", os.environ.get("DISPLAY"))

    await adapter.join("Notetaker", during, MeetingRecord().audio_inputs)
    await adapter.leave()
    LIBC.fflush(None)  # whatever C's stdio still held goes out now, to the real stdout
    printed = "".join(sdk.printed)
    assert PASSWORD in printed, "the fake printed the password, as the SDK does"
    assert "zak-5d1e8b77" in printed
    out, err = capfd.readouterr()
    for secret in (PASSWORD, "zak-5d1e8b77", "obf-c0ffee42"):
        assert secret not in out + err
    assert seen["home"] != home
    assert seen["display"] is None
    assert not Path(str(seen["home"])).exists(), "the throw-away HOME is removed"
    assert (os.environ.get("HOME"), os.environ.get("DISPLAY")) == (home, display)
    print("stdout works again")
    assert "stdout works again" in capfd.readouterr().out


async def test_a_join_stuck_connecting_is_a_join_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(zoom.adapter, "CONNECT_SECONDS", 0.3)
    error = await join_error(Script(users=[ALICE], stuck_connecting=True))
    assert error.sub_code == "zoom_join_timeout"
    assert "let the bot in" in str(error)


@pytest.mark.parametrize(
    ("permission", "expected"),
    [
        ("allowed", RecordingPermission(granted=True, asked=False)),
        ("granted", RecordingPermission(granted=True, asked=True)),
        (
            "denied",
            RecordingPermission(False, asked=True, sub_code="zoom_recording_permission_denied"),
        ),
        (
            "timeout",
            RecordingPermission(False, asked=True, sub_code="zoom_recording_permission_timeout"),
        ),
        (
            "unsupported",
            RecordingPermission(False, asked=False, sub_code="zoom_host_client_cannot_grant"),
        ),
    ],
)
async def test_the_recording_permission_as_the_host_decides(
    permission: str, expected: RecordingPermission
) -> None:
    sdk = FakeZoomSdk(Script(users=[ALICE], permission=permission, permission_delay=0.1))
    events = await events_over(sdk, 0.4)
    assert [e for e in events if isinstance(e, RecordingPermission)] == [expected]
    assert any(isinstance(e, Heard) for e in events) == expected.granted


async def test_the_active_speaker_is_reported() -> None:
    sdk = FakeZoomSdk(
        Script(users=[ALICE, User(102, "Bob", 660.0, muted=True)], actions=[Mute(0.2, 102, False)])
    )
    events = await events_over(sdk, 0.4)
    assert ActiveSpeaker("101") in events

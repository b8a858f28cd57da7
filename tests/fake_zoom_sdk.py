# ruff: noqa: N802
"""A fake `zoom_meeting_sdk`: the surface the Zoom adapter uses, driving a scripted meeting.

Names, call shapes and enum values are the real module's (test_zoom_contract.py
checks that against the installed SDK). It behaves the way the real SDK was
seen to behave, and records as a violation what would crash or hang it:

- Callbacks are delivered only from inside an iteration of the main context,
  on the thread that called `InitSDK`; any SDK call from another thread is a
  violation (the real SDK aborts). The scripted meeting runs on the fake's
  own thread and posts its callbacks to the main context, so they arrive off
  the event loop, exactly as with GLib.
- One-way raw audio (10 ms, 32 kHz mono S16LE) is delivered straight from the
  fake's meeting thread, a thread the adapter does not own.
- A callback that raises, a callbacks object or raw-data helper collected
  before `CleanUPSDK`, or `CleanUPSDK` off the SDK thread, is a violation.
- `Join` prints its JoinParam (password and tokens) with C's `printf`, as the real
  one does: block-buffered when fd 1 is not a terminal.
"""

import ctypes
import heapq
import itertools
import queue
import threading
import time
import types
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import jwt
import numpy as np

RATE = 32000
FRAME_SAMPLES = RATE // 100
AMPLITUDE = 8000
BOT_ID = 16778240
BOT_TONE_HZ = 1234.0
"""The bot's own one-way audio (the real SDK sends it too): the adapter must drop it."""
LIBC = ctypes.CDLL(None)
TOKEN_MIN_AHEAD = 1800
"""`SDKAuth` refuses locally a JWT whose tokenExp is less than this far ahead."""

SDKError = Enum(
    "SDKError",
    {
        "SDKERR_SUCCESS": 0,
        "SDKERR_INVALID_PARAMETER": 3,
        "SDKERR_MODULE_LOAD_FAILED": 4,
        "SDKERR_UNAUTHENTICATION": 8,
        "SDKERR_NO_PERMISSION": 12,
        "SDKERR_INTERNAL_ERROR": 15,
        "SDKERR_MEETING_DONT_SUPPORT_FEATURE": 20,
    },
)
AuthResult = Enum(
    "AuthResult",
    {
        "AUTHRET_SUCCESS": 0,
        "AUTHRET_KEYORSECRETEMPTY": 1,
        "AUTHRET_KEYORSECRETWRONG": 2,
        "AUTHRET_ACCOUNTNOTSUPPORT": 3,
        "AUTHRET_ACCOUNTNOTENABLESDK": 4,
        "AUTHRET_UNKNOWN": 5,
        "AUTHRET_SERVICE_BUSY": 6,
        "AUTHRET_NONE": 7,
        "AUTHRET_OVERTIME": 8,
        "AUTHRET_NETWORKISSUE": 9,
        "AUTHRET_CLIENT_INCOMPATIBLE": 10,
        "AUTHRET_JWTTOKENWRONG": 11,
        "AUTHRET_LIMIT_EXCEEDED_EXCEPTION": 12,
    },
)
MeetingStatus = Enum(
    "MeetingStatus",
    {
        "MEETING_STATUS_IDLE": 0,
        "MEETING_STATUS_CONNECTING": 1,
        "MEETING_STATUS_WAITINGFORHOST": 2,
        "MEETING_STATUS_INMEETING": 3,
        "MEETING_STATUS_DISCONNECTING": 4,
        "MEETING_STATUS_RECONNECTING": 5,
        "MEETING_STATUS_FAILED": 6,
        "MEETING_STATUS_ENDED": 7,
        "MEETING_STATUS_IN_WAITING_ROOM": 11,
    },
)
MeetingFailCode = Enum(
    "MeetingFailCode",
    {
        "MEETING_SUCCESS": 0,
        "MEETING_FAIL_PASSWORD_ERR": 4,
        "MEETING_FAIL_MEETING_NOT_START": 7,
        "MEETING_FAIL_MEETING_NOT_EXIST": 8,
        "MEETING_FAIL_MEETING_USER_FULL": 9,
        "CONF_FAIL_REMOVED_BY_HOST": 61,
    },
)
MeetingEndReason = Enum(
    "MeetingEndReason",
    {
        "EndMeetingReason_None": 0,
        "EndMeetingReason_KickByHost": 1,
        "EndMeetingReason_EndByHost": 2,
    },
)
RequestLocalRecordingStatus = Enum(
    "RequestLocalRecordingStatus",
    {
        "RequestLocalRecording_Granted": 0,
        "RequestLocalRecording_Denied": 1,
        "RequestLocalRecording_Timeout": 2,
    },
)
AudioStatus = Enum(
    "AudioStatus",
    {
        "Audio_None": 0,
        "Audio_Muted": 1,
        "Audio_UnMuted": 2,
        "Audio_Muted_ByHost": 3,
        "Audio_UnMuted_ByHost": 4,
        "Audio_MutedAll_ByHost": 5,
        "Audio_UnMutedAll_ByHost": 6,
    },
)
LeaveMeetingCmd = Enum("LeaveMeetingCmd", {"LEAVE_MEETING": 0, "END_MEETING": 1})
SDKUserType = Enum("SDKUserType", {"SDK_UT_NORMALUSER": 100, "SDK_UT_WITHOUT_LOGIN": 101})
AudioRawdataSamplingRate = Enum(
    "AudioRawdataSamplingRate",
    {"AudioRawdataSamplingRate_32K": 0, "AudioRawdataSamplingRate_48K": 1},
)
SDK_LANGUAGE_ID = Enum("SDK_LANGUAGE_ID", {"LANGUAGE_Unknown": 0, "LANGUAGE_English": 1})

ENUMS = (
    SDKError,
    AuthResult,
    MeetingStatus,
    MeetingFailCode,
    MeetingEndReason,
    RequestLocalRecordingStatus,
    AudioStatus,
    LeaveMeetingCmd,
    SDKUserType,
    AudioRawdataSamplingRate,
    SDK_LANGUAGE_ID,
)


# ----------------------------------------------------------------------------- the script


@dataclass
class User:
    """Someone in the scripted meeting, speaking a steady tone whenever unmuted."""

    user_id: int
    name: str
    tone_hz: float
    is_host: bool = False
    muted: bool = False
    joins_at: float = 0.0
    """Seconds after the bot is in; 0 means there already."""
    leaves_at: float | None = None

    @property
    def persistent_id(self) -> str:
        return f"guid-{self.user_id}"


@dataclass(frozen=True)
class Mute:
    at: float
    user_id: int
    muted: bool
    by_host: bool = False


@dataclass(frozen=True)
class MakeHost:
    at: float
    user_id: int


@dataclass(frozen=True)
class EndMeeting:
    """The meeting ends for the bot: `EndByHost`, or `KickByHost` (the bot was removed)."""

    at: float
    reason: str = "EndMeetingReason_EndByHost"


@dataclass(frozen=True)
class GrantRecording:
    """The host changes their mind and lets the bot record after all."""

    at: float


Action = Mute | MakeHost | EndMeeting | GrantRecording


@dataclass
class Script:
    """One meeting, from `SDKAuth` to its end. Times in `actions` and on users count from
    the moment the bot is in the meeting."""

    users: list[User]
    actions: list[Action] = field(default_factory=list)
    auth: str | None = "AUTHRET_SUCCESS"
    """The `AuthResult` Zoom answers with; None: it never answers."""
    auth_delay: float = 0.05
    waiting_room: float = 0.0
    """Seconds in the waiting room before the host admits the bot (0: straight in)."""
    join_failure: str | None = None
    """A `MeetingFailCode` name: the join fails with it instead of getting in."""
    stuck_connecting: bool = False
    """The join never gets past CONNECTING (as with some wrong passwords)."""
    permission: str = "granted"
    """The host's answer: granted, denied, timeout; or allowed (no need to ask),
    unsupported (the host's client cannot grant it)."""
    permission_delay: float = 0.3


# ----------------------------------------------------------------------------- the main context


class FakeMainContext:
    """Stands in for GLib's default main context: callbacks posted here run inside
    `iteration`, on the SDK thread."""

    def __init__(self, sdk: "FakeZoomSdk") -> None:
        self._sdk = sdk
        self._ready: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()

    def post(self, work: Callable[[], None]) -> None:
        self._ready.put(work)

    def iteration(self, may_block: bool) -> bool:
        self._sdk.on_sdk_thread("main context iteration")
        try:
            work = self._ready.get(block=may_block)
        except queue.Empty:
            return False
        work()
        while True:
            try:
                self._ready.get_nowait()()
            except queue.Empty:
                return True

    def wakeup(self) -> None:
        self._ready.put(lambda: None)


# ----------------------------------------------------------------------------- SDK objects


class SdkObject:
    """Every object the fake SDK hands out (the contract test traces calls on these)."""

    sdk: "FakeZoomSdk"


class Params:
    """Plain parameter structs: like nanobind's, they refuse unknown fields."""

    __slots__ = ()


class InitParam(Params):
    __slots__ = (
        "emLanguageID",
        "enableGenerateDump",
        "enableLogByDefault",
        "strBrandingName",
        "strSupportUrl",
        "strWebDomain",
        "uiLogFileSize",
    )


class AuthContext(Params):
    __slots__ = ("jwt_token",)

    def __init__(self) -> None:
        self.jwt_token = ""


class JoinParam4WithoutLogin(Params):
    __slots__ = (
        "app_privilege_token",
        "customer_key",
        "eAudioRawdataSamplingRate",
        "isAudioOff",
        "isAudioRawDataStereo",
        "isMyVoiceInMix",
        "isVideoOff",
        "join_token",
        "meetingNumber",
        "onBehalfToken",
        "psw",
        "userName",
        "userZAK",
        "vanityID",
        "webinarToken",
    )

    def __init__(self) -> None:
        for name in self.__slots__:
            setattr(self, name, None)


class JoinParam(Params):
    __slots__ = ("param", "userType")

    def __init__(self) -> None:
        self.userType = SDKUserType.SDK_UT_NORMALUSER
        self.param = JoinParam4WithoutLogin()


class Callbacks(SdkObject):
    """`*Callbacks(name=callable, ...)`: the SDK calls them by name."""

    names: tuple[str, ...] = ()

    def __init__(self, **callbacks: Callable[..., None] | None) -> None:
        unknown = set(callbacks) - set(self.names)
        if unknown:
            raise TypeError(f"{type(self).__name__} takes no {sorted(unknown)}")
        self.callbacks = callbacks

    def fire(self, name: str, *args: Any) -> None:
        """Call `name` like the SDK would: an exception here would abort the process."""
        self.sdk.fired.add((type(self).__name__, name, len(args)))
        callback = self.callbacks.get(name)
        if callback is None:
            return
        try:
            callback(*args)
        except BaseException as error:
            self.sdk.violation(f"{name} raised {error!r} into the SDK")


class AuthServiceEventCallbacks(Callbacks):
    names = ("onAuthenticationReturnCallback",)


class MeetingServiceEventCallbacks(Callbacks):
    names = ("onMeetingStatusChangedCallback",)


class MeetingParticipantsCtrlEventCallbacks(Callbacks):
    names = ("onUserJoinCallback", "onUserLeftCallback", "onHostChangeNotificationCallback")


class MeetingAudioCtrlEventCallbacks(Callbacks):
    names = ("onUserAudioStatusChangeCallback", "onUserActiveAudioChangeCallback")


class MeetingRecordingCtrlEventCallbacks(Callbacks):
    names = ("onRecordPrivilegeChangedCallback", "onLocalRecordingPrivilegeRequestStatusCallback")


class ZoomSDKAudioRawDataDelegateCallbacks(Callbacks):
    names = ("onOneWayAudioRawDataReceivedCallback", "onMixedAudioRawDataReceivedCallback")


class AudioRawData(SdkObject):
    def __init__(self, pcm: bytes) -> None:
        self._pcm = pcm

    def GetBuffer(self) -> bytes:
        return self._pcm

    def GetBufferLen(self) -> int:
        return len(self._pcm)

    def GetSampleRate(self) -> int:
        return RATE

    def GetChannelNum(self) -> int:
        return 1


class IUserInfo(SdkObject):
    def __init__(self, user: User, host: bool, muted: bool) -> None:
        self._user, self._host, self._muted = user, host, muted

    def GetUserID(self) -> int:
        return self._user.user_id

    def GetUserName(self) -> str:
        return self._user.name

    def IsHost(self) -> bool:
        return self._host

    def GetPersistentId(self) -> str:
        return self._user.persistent_id

    def IsAudioMuted(self) -> bool:
        return self._muted


class IUserAudioStatus(SdkObject):
    def __init__(self, user_id: int, status: AudioStatus) -> None:
        self._user_id, self._status = user_id, status

    def GetUserId(self) -> int:
        return self._user_id

    def GetStatus(self) -> AudioStatus:
        return self._status


class Controller(SdkObject):
    def __init__(self, sdk: "FakeZoomSdk") -> None:
        self.sdk = sdk
        self.events: Callbacks | None = None

    def SetEvent(self, events: Callbacks) -> SDKError:
        self.sdk.on_sdk_thread(f"{type(self).__name__}.SetEvent")
        self.sdk.keep_watch(events)
        self.events = events
        return SDKError.SDKERR_SUCCESS


class IAuthService(Controller):
    def SDKAuth(self, context: AuthContext) -> SDKError:
        self.sdk.on_sdk_thread("SDKAuth")
        if not context.jwt_token:
            return SDKError.SDKERR_INVALID_PARAMETER
        try:
            claims = jwt.decode(context.jwt_token, options={"verify_signature": False})
        except jwt.PyJWTError:
            return SDKError.SDKERR_INTERNAL_ERROR
        if claims.get("tokenExp", 0) < time.time() + TOKEN_MIN_AHEAD:
            return SDKError.SDKERR_INTERNAL_ERROR
        self.sdk.meeting.authenticate(self)
        return SDKError.SDKERR_SUCCESS


class IMeetingService(Controller):
    def Join(self, join: JoinParam) -> SDKError:
        self.sdk.on_sdk_thread("Join")
        self.sdk.print_join_param(join)
        if not self.sdk.meeting.authenticated:
            return SDKError.SDKERR_UNAUTHENTICATION
        self.sdk.meeting.join(self, join)
        return SDKError.SDKERR_SUCCESS

    def Leave(self, command: LeaveMeetingCmd) -> SDKError:
        self.sdk.on_sdk_thread("Leave")
        return self.sdk.meeting.leave()

    def GetMeetingStatus(self) -> MeetingStatus:
        self.sdk.on_sdk_thread("GetMeetingStatus")
        return self.sdk.meeting.status

    def GetMeetingParticipantsController(self) -> "IMeetingParticipantsController | None":
        return self.sdk.meeting.controller(IMeetingParticipantsController)

    def GetMeetingAudioController(self) -> "IMeetingAudioController | None":
        return self.sdk.meeting.controller(IMeetingAudioController)

    def GetMeetingRecordingController(self) -> "IMeetingRecordingController | None":
        return self.sdk.meeting.controller(IMeetingRecordingController)


class IMeetingParticipantsController(Controller):
    def GetParticipantsList(self) -> list[int]:
        self.sdk.on_sdk_thread("GetParticipantsList")
        return [BOT_ID, *self.sdk.meeting.present]

    def GetUserByUserID(self, user_id: int) -> IUserInfo | None:
        self.sdk.on_sdk_thread("GetUserByUserID")
        return self.sdk.meeting.user_info(user_id)

    def GetMySelfUser(self) -> IUserInfo:
        self.sdk.on_sdk_thread("GetMySelfUser")
        return IUserInfo(User(BOT_ID, "bot", BOT_TONE_HZ), host=False, muted=True)


class IMeetingAudioController(Controller):
    def JoinVoip(self) -> SDKError:
        self.sdk.on_sdk_thread("JoinVoip")
        return SDKError.SDKERR_SUCCESS


class IMeetingRecordingController(Controller):
    def CanStartRawRecording(self) -> SDKError:
        self.sdk.on_sdk_thread("CanStartRawRecording")
        allowed = self.sdk.meeting.may_record
        return SDKError.SDKERR_SUCCESS if allowed else SDKError.SDKERR_NO_PERMISSION

    def IsSupportRequestLocalRecordingPrivilege(self) -> SDKError:
        self.sdk.on_sdk_thread("IsSupportRequestLocalRecordingPrivilege")
        if self.sdk.meeting.script.permission == "unsupported":
            return SDKError.SDKERR_MEETING_DONT_SUPPORT_FEATURE
        return SDKError.SDKERR_SUCCESS

    def RequestLocalRecordingPrivilege(self) -> SDKError:
        self.sdk.on_sdk_thread("RequestLocalRecordingPrivilege")
        self.sdk.meeting.ask_permission(self)
        return SDKError.SDKERR_SUCCESS

    def StartRawRecording(self) -> SDKError:
        self.sdk.on_sdk_thread("StartRawRecording")
        if not self.sdk.meeting.may_record:
            return SDKError.SDKERR_NO_PERMISSION
        self.sdk.meeting.recording = True
        return SDKError.SDKERR_SUCCESS

    def StopRawRecording(self) -> SDKError:
        self.sdk.on_sdk_thread("StopRawRecording")
        self.sdk.meeting.recording = False
        return SDKError.SDKERR_SUCCESS


class IZoomSDKAudioRawDataHelper(SdkObject):
    def __init__(self, sdk: "FakeZoomSdk") -> None:
        self.sdk = sdk

    def subscribe(self, delegate: ZoomSDKAudioRawDataDelegateCallbacks, mixed: bool) -> SDKError:
        self.sdk.on_sdk_thread("subscribe")
        self.sdk.keep_watch(delegate)
        if not self.sdk.meeting.recording:
            return SDKError.SDKERR_NO_PERMISSION
        self.sdk.meeting.delegate = delegate
        return SDKError.SDKERR_SUCCESS

    def unSubscribe(self) -> SDKError:
        self.sdk.on_sdk_thread("unSubscribe")
        self.sdk.meeting.delegate = None
        return SDKError.SDKERR_SUCCESS


# ----------------------------------------------------------------------------- the meeting


class ScriptedMeeting:
    """The far end: plays the script on its own thread, posting callbacks to the
    main context and sending raw audio straight from here."""

    def __init__(self, sdk: "FakeZoomSdk", script: Script) -> None:
        self.sdk = sdk
        self.script = script
        self.status = MeetingStatus.MEETING_STATUS_IDLE
        self.authenticated = False
        self.present: list[int] = []
        self.muted = {user.user_id: user.muted for user in script.users}
        self.host = next((u.user_id for u in script.users if u.is_host), None)
        self.may_record = script.permission == "allowed"
        self.recording = False
        self.delegate: ZoomSDKAudioRawDataDelegateCallbacks | None = None
        self.frames_sent: dict[int, int] = {}
        """One-way frames sent, by user id (the bot's own included)."""
        self.left_by_bot = False
        self._users = {user.user_id: user for user in script.users}
        self._services: dict[type, Controller] = {}
        self._meeting_service: IMeetingService | None = None
        self._timers: list[tuple[float, int, Callable[[], None]]] = []
        self._order = itertools.count()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._in_meeting_at: float | None = None
        self._thread = threading.Thread(target=self._run, name="fake-zoom-meeting", daemon=True)

    # Called by the SDK objects, on the SDK thread.

    def authenticate(self, service: IAuthService) -> None:
        self._thread.start()
        if self.script.auth is None:
            return
        result = AuthResult[self.script.auth]
        self.authenticated = result == AuthResult.AUTHRET_SUCCESS
        self._after(self.script.auth_delay, service, "onAuthenticationReturnCallback", result)

    def join(self, service: IMeetingService, join: JoinParam) -> None:
        self._meeting_service = service
        self._set_status(0, MeetingStatus.MEETING_STATUS_CONNECTING)
        if self.script.join_failure is not None:
            failure = MeetingFailCode[self.script.join_failure].value
            self._set_status(0.1, MeetingStatus.MEETING_STATUS_FAILED, failure)
            return
        if self.script.stuck_connecting:
            return
        admitted = 0.1
        if self.script.waiting_room:
            self._set_status(0.1, MeetingStatus.MEETING_STATUS_IN_WAITING_ROOM)
            admitted += self.script.waiting_room
        self._schedule(admitted, self._enter)

    def leave(self) -> SDKError:
        if self.status in (MeetingStatus.MEETING_STATUS_IDLE, MeetingStatus.MEETING_STATUS_ENDED):
            return SDKError.SDKERR_MODULE_LOAD_FAILED
        self.left_by_bot = True
        self.delegate = None
        self._set_status(0, MeetingStatus.MEETING_STATUS_DISCONNECTING)
        self._set_status(0.05, MeetingStatus.MEETING_STATUS_ENDED)
        return SDKError.SDKERR_SUCCESS

    def controller(self, kind: type[Controller]) -> Any:
        self.sdk.on_sdk_thread(f"Get{kind.__name__[1:]}")
        if self.status != MeetingStatus.MEETING_STATUS_INMEETING:
            return None
        return self._services.setdefault(kind, kind(self.sdk))

    def user_info(self, user_id: int) -> IUserInfo | None:
        user = self._users.get(user_id)
        if user is None or user_id not in self.present:
            return None
        return IUserInfo(user, host=user_id == self.host, muted=self.muted[user_id])

    def ask_permission(self, recording: IMeetingRecordingController) -> None:
        answer = {
            "granted": "RequestLocalRecording_Granted",
            "denied": "RequestLocalRecording_Denied",
            "timeout": "RequestLocalRecording_Timeout",
        }[self.script.permission]
        if answer == "RequestLocalRecording_Granted":
            self._schedule(self.script.permission_delay, self._grant)
        status = RequestLocalRecordingStatus[answer]
        callback = "onLocalRecordingPrivilegeRequestStatusCallback"
        self._after(self.script.permission_delay, recording, callback, status)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)

    # On the meeting thread.

    def _run(self) -> None:
        tick = time.monotonic()
        while not self._stop.is_set():
            self._run_timers()
            self._send_audio()
            tick += FRAME_SAMPLES / RATE
            self._stop.wait(max(0.0, tick - time.monotonic()))

    def _run_timers(self) -> None:
        now = time.monotonic()
        while True:
            with self._lock:
                if not self._timers or self._timers[0][0] > now:
                    return
                _, _, work = heapq.heappop(self._timers)
            work()

    def _schedule(self, delay: float, work: Callable[[], None]) -> None:
        with self._lock:
            heapq.heappush(self._timers, (time.monotonic() + delay, next(self._order), work))

    def _after(self, delay: float, owner: Controller, name: str, *args: Any) -> None:
        """In `delay` seconds, `owner`'s callback `name`, delivered on the SDK thread."""

        def deliver() -> None:
            if owner.events is not None:
                owner.events.fire(name, *args)

        self._schedule(delay, lambda: self.sdk.main_context.post(deliver))

    def _set_status(self, delay: float, status: MeetingStatus, result: int = 0) -> None:
        def change() -> None:
            self.status = status
            assert self._meeting_service is not None
            events = self._meeting_service.events
            if events is not None:
                events.fire("onMeetingStatusChangedCallback", status, result)

        self._schedule(delay, lambda: self.sdk.main_context.post(change))

    def _enter(self) -> None:
        self.present = [user.user_id for user in self.script.users if user.joins_at == 0]
        self._in_meeting_at = time.monotonic()
        self._set_status(0, MeetingStatus.MEETING_STATUS_INMEETING)
        for user in self.script.users:
            if user.joins_at:
                self._schedule(user.joins_at, lambda u=user: self._user_joins(u))
            if user.leaves_at is not None:
                self._schedule(user.leaves_at, lambda u=user: self._user_leaves(u))
        for action in self.script.actions:
            self._schedule(action.at, lambda a=action: self._act(a))

    def _participants(self, name: str, *args: Any) -> None:
        controller = self._services.get(IMeetingParticipantsController)
        if controller is not None and controller.events is not None:
            controller.events.fire(name, *args)

    def _user_joins(self, user: User) -> None:
        def joined() -> None:
            self.present.append(user.user_id)
            self._participants("onUserJoinCallback", [user.user_id], "")

        self.sdk.main_context.post(joined)

    def _user_leaves(self, user: User) -> None:
        def left() -> None:
            self.present.remove(user.user_id)
            self._participants("onUserLeftCallback", [user.user_id], "")

        self.sdk.main_context.post(left)

    def _act(self, action: Action) -> None:
        match action:
            case Mute(_, user_id, muted, by_host):
                self.sdk.main_context.post(lambda: self._mute(user_id, muted, by_host))
            case MakeHost(_, user_id):
                self.sdk.main_context.post(lambda: self._make_host(user_id))
            case EndMeeting(_, reason):
                self.delegate = None
                end = MeetingEndReason[reason].value
                self._set_status(0, MeetingStatus.MEETING_STATUS_ENDED, end)
            case GrantRecording():
                self._grant()

    def _mute(self, user_id: int, muted: bool, by_host: bool) -> None:
        self.muted[user_id] = muted
        name = ("Audio_Muted" if muted else "Audio_UnMuted") + ("_ByHost" if by_host else "")
        controller = self._services.get(IMeetingAudioController)
        if controller is not None and controller.events is not None:
            status = IUserAudioStatus(user_id, AudioStatus[name])
            controller.events.fire("onUserAudioStatusChangeCallback", [status], "")
            speaking = [u for u in self.present if not self.muted[u]]
            controller.events.fire("onUserActiveAudioChangeCallback", speaking)

    def _make_host(self, user_id: int) -> None:
        self.host = user_id
        self._participants("onHostChangeNotificationCallback", user_id)

    def _grant(self) -> None:
        self.may_record = True
        recording = self._services.get(IMeetingRecordingController)
        if recording is not None and recording.events is not None:
            events = recording.events
            self.sdk.main_context.post(
                lambda: events.fire("onRecordPrivilegeChangedCallback", True)
            )

    def _send_audio(self) -> None:
        delegate = self.delegate
        if delegate is None or not self.recording:
            return
        speakers = [u for u in self.present if not self.muted[u]]
        for user_id, hz in [(BOT_ID, BOT_TONE_HZ)] + [
            (u, self._users[u].tone_hz) for u in speakers
        ]:
            sent = self.frames_sent.get(user_id, 0)
            n = np.arange(sent * FRAME_SAMPLES, (sent + 1) * FRAME_SAMPLES)
            pcm = (AMPLITUDE * np.sin(2 * np.pi * hz * n / RATE)).astype("<i2").tobytes()
            self.frames_sent[user_id] = sent + 1
            delegate.fire("onOneWayAudioRawDataReceivedCallback", AudioRawData(pcm), user_id)


# ----------------------------------------------------------------------------- the module


class FakeZoomSdk(types.ModuleType):
    """Pass as `sdk=` to `ZoomAdapter`, with `main_context=sdk.main_context`."""

    def __init__(self, script: Script) -> None:
        super().__init__("zoom_meeting_sdk")
        for enum in ENUMS:
            setattr(self, enum.__name__, enum)
        for kind in (
            InitParam,
            AuthContext,
            JoinParam,
            JoinParam4WithoutLogin,
            AuthServiceEventCallbacks,
            MeetingServiceEventCallbacks,
            MeetingParticipantsCtrlEventCallbacks,
            MeetingAudioCtrlEventCallbacks,
            MeetingRecordingCtrlEventCallbacks,
            ZoomSDKAudioRawDataDelegateCallbacks,
        ):
            setattr(self, kind.__name__, self._bound(kind))
        self.main_context = FakeMainContext(self)
        self.meeting = ScriptedMeeting(self, script)
        self.violations: list[str] = []
        self.fired: set[tuple[str, str, int]] = set()
        """(callbacks class, callback, number of arguments) the SDK called."""
        self.printed: list[str] = []
        self.sdk_thread: int | None = None
        self.cleaned_up = False
        self._watched: list[weakref.ref[object]] = []

    def _bound(self, kind: type) -> type:
        """`kind`, with its instances knowing this fake (the SDK's objects are its own)."""
        if issubclass(kind, SdkObject):
            return type(kind.__name__, (kind,), {"sdk": self})
        return kind

    def violation(self, what: str) -> None:
        self.violations.append(what)

    def on_sdk_thread(self, what: str) -> None:
        if threading.get_ident() != self.sdk_thread:
            self.violation(f"{what} called off the SDK thread")

    def keep_watch(self, obj: object) -> None:
        """The real SDK segfaults if `obj` is collected before `CleanUPSDK`."""
        self._watched.append(weakref.ref(obj))

    def print_join_param(self, join: JoinParam) -> None:
        param = join.param
        lines = [
            f"Meeting number: {param.meetingNumber}",
            f"User name: {param.userName}",
            f"Password: {param.psw}",
            f"ZAK: {param.userZAK}",
            f"App privilege token: {param.app_privilege_token}",
            f"On behalf token: {param.onBehalfToken}",
        ]
        text = "\n".join(lines) + "\n"
        self.printed.append(text)
        LIBC.printf(b"%s", text.encode())

    def InitSDK(self, param: InitParam) -> SDKError:
        self.sdk_thread = threading.get_ident()
        return SDKError.SDKERR_SUCCESS

    def CleanUPSDK(self) -> SDKError:
        self.on_sdk_thread("CleanUPSDK")
        if any(ref() is None for ref in self._watched):
            self.violation(
                "a callbacks object or the raw-data helper was collected before CleanUPSDK"
            )
        self.meeting.stop()
        self.cleaned_up = True
        return SDKError.SDKERR_SUCCESS

    def CreateAuthService(self) -> IAuthService:
        self.on_sdk_thread("CreateAuthService")
        return IAuthService(self)

    def CreateMeetingService(self) -> IMeetingService:
        self.on_sdk_thread("CreateMeetingService")
        return IMeetingService(self)

    def DestroyAuthService(self, service: IAuthService) -> SDKError:
        self.on_sdk_thread("DestroyAuthService")
        return SDKError.SDKERR_SUCCESS

    def DestroyMeetingService(self, service: IMeetingService) -> SDKError:
        self.on_sdk_thread("DestroyMeetingService")
        return SDKError.SDKERR_SUCCESS

    def GetAudioRawdataHelper(self) -> IZoomSDKAudioRawDataHelper:
        self.on_sdk_thread("GetAudioRawdataHelper")
        helper = IZoomSDKAudioRawDataHelper(self)
        self.keep_watch(helper)
        return helper

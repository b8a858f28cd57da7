"""The SDK's own thread: InitSDK, auth, join, GLib iteration, and cleanup, all on it.

The SDK insists that the thread which called `InitSDK` is the one that
iterates GLib's default context, and it delivers every callback there.
So this thread owns every SDK object from `InitSDK` to `CleanUPSDK`; the
asyncio side only posts commands (a queue, then a wakeup of the context) and
hears back through `report` (how the join goes) and `emit` (meeting events).
"""

import enum
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import structlog

from unmixed.media import PcmFrame
from unmixed.platforms.base import JoinError, MeetingEnded, MeetingEvent
from unmixed.platforms.zoom.guard import guarded
from unmixed.platforms.zoom.mainloop import MainContext
from unmixed.platforms.zoom.meeting import InMeeting
from unmixed.platforms.zoom.outcomes import Outcomes
from unmixed.wire.status import SubCode

log = structlog.get_logger(__name__)


class Step(enum.Enum):
    """How far the join has got, as the asyncio side needs to know."""

    AUTHENTICATED = "authenticated"
    WAITING = "waiting"
    """The host has not started the meeting, or the bot is in the waiting room."""
    ADMITTED = "admitted"
    LEFT = "left"
    """After a leave was asked for: the bot is out of the meeting (or never got in)."""


Progress = Step | Exception


@dataclass(frozen=True)
class JoinRequest:
    """What `Join` is given; the tokens are optional and secret."""

    meeting_number: int
    user_name: str
    password: str
    zak: str | None = None
    on_behalf: str | None = None
    app_privilege: str | None = None


class SdkThread:
    """Runs the SDK on a thread of its own; `post` is the way in, from any thread."""

    def __init__(
        self,
        sdk: ModuleType,
        context: MainContext,
        token: str,
        request: JoinRequest,
        report: Callable[[Progress], None],
        emit: Callable[[MeetingEvent], None],
        push_audio: Callable[[str, PcmFrame], None],
    ) -> None:
        self._sdk = sdk
        self._context = context
        self._token = token
        self._request = request
        self._report = report
        self._emit = emit
        self._push_audio = push_audio
        self._outcomes = Outcomes(sdk)
        self._status = sdk.MeetingStatus
        self._commands: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._running = True
        self._keep: list[object] = []
        """Every callbacks object and the raw-data helper, alive until after `CleanUPSDK`
        (the SDK segfaults if one is collected while it can still call it)."""
        self._auth_service: Any = None
        self._meeting_service: Any = None
        self._meeting: InMeeting | None = None
        self._joining = False
        self._leaving = False
        self.thread = threading.Thread(target=self._main, name="zoom-sdk", daemon=True)

    def post(self, command: Callable[[], None]) -> None:
        """Run `command` on the SDK thread, soon."""
        self._commands.put(command)
        self._context.wakeup()

    def leave_meeting(self) -> None:
        """On the SDK thread: leave if in (or on the way into) a meeting; `Step.LEFT` follows."""
        status = self._meeting_service.GetMeetingStatus() if self._meeting_service else None
        self._leaving = True
        idle = (self._status.MEETING_STATUS_IDLE, self._status.MEETING_STATUS_ENDED)
        if status is None or status in idle or status == self._status.MEETING_STATUS_FAILED:
            self._report(Step.LEFT)
            return
        result = self._meeting_service.Leave(self._sdk.LeaveMeetingCmd.LEAVE_MEETING)
        if result != self._outcomes.success:
            log.warning("the SDK would not leave the meeting", result=result.name)
            self._report(Step.LEFT)

    def stop(self) -> None:
        """On the SDK thread: end the loop; the SDK is cleaned up right after."""
        self._running = False

    def _main(self) -> None:
        try:
            self._start()
        except Exception as error:
            log.exception("the Zoom SDK could not be started")
            self._report(error)
        try:
            while self._running:
                self._context.iteration(True)
                self._run_commands()
        finally:
            self._clean_up()

    def _run_commands(self) -> None:
        while True:
            try:
                command = self._commands.get_nowait()
            except queue.Empty:
                return
            try:
                command()
            except Exception as error:
                log.exception("a command for the Zoom SDK failed")
                self._report(error)

    def _start(self) -> None:
        sdk = self._sdk
        initialised = sdk.InitSDK(self._init_param())
        if initialised != self._outcomes.success:
            log.error("InitSDK failed", result=initialised.name)
            self._report(JoinError(SubCode.ZOOM_SDK_CRASHED, "the Zoom SDK failed to start here"))
            return
        self._meeting_service = sdk.CreateMeetingService()
        self._listen(
            self._meeting_service,
            sdk.MeetingServiceEventCallbacks(
                onMeetingStatusChangedCallback=guarded(self._on_status)
            ),
        )
        self._auth_service = sdk.CreateAuthService()
        self._listen(
            self._auth_service,
            sdk.AuthServiceEventCallbacks(onAuthenticationReturnCallback=guarded(self._on_auth)),
        )
        context = sdk.AuthContext()
        context.jwt_token = self._token
        result = self._auth_service.SDKAuth(context)
        if result != self._outcomes.success:
            log.error("SDKAuth refused the request", result=result.name)
            self._report(self._outcomes.sdk_auth(result))

    def _listen(self, service: Any, callbacks: object) -> None:
        self._keep.append(callbacks)
        service.SetEvent(callbacks)

    def _init_param(self) -> Any:
        param = self._sdk.InitParam()
        param.strWebDomain = "https://zoom.us"
        param.strSupportUrl = "https://zoom.us"
        param.emLanguageID = self._sdk.SDK_LANGUAGE_ID.LANGUAGE_English
        param.enableGenerateDump = False
        param.enableLogByDefault = False
        return param

    def _join_param(self) -> Any:
        sdk, request = self._sdk, self._request
        join = sdk.JoinParam()
        join.userType = sdk.SDKUserType.SDK_UT_WITHOUT_LOGIN
        param = join.param
        param.meetingNumber = request.meeting_number
        param.userName = request.user_name
        param.psw = request.password
        param.isVideoOff = True
        param.isAudioOff = False
        param.isAudioRawDataStereo = False
        param.isMyVoiceInMix = False
        param.eAudioRawdataSamplingRate = sdk.AudioRawdataSamplingRate.AudioRawdataSamplingRate_32K
        if request.zak:
            param.userZAK = request.zak
        if request.on_behalf:
            param.onBehalfToken = request.on_behalf
        if request.app_privilege:
            param.app_privilege_token = request.app_privilege
        return join

    def _on_auth(self, result: Any) -> None:
        if self._joining or self._leaving:
            return
        if result != self._outcomes.auth_success:
            log.warning("Zoom refused the SDK app", result=result.name)
            self._report(self._outcomes.auth(result))
            return
        self._joining = True
        self._report(Step.AUTHENTICATED)
        joined = self._meeting_service.Join(self._join_param())
        if joined != self._outcomes.success:
            log.warning("Join refused to start", result=joined.name)
            self._report(self._outcomes.join_call(joined))

    def _on_status(self, status: Any, result: int) -> None:
        log.info("zoom meeting status", status=status.name, result=result)
        statuses = self._status
        if status == statuses.MEETING_STATUS_INMEETING and self._meeting is None:
            self._admitted()
        elif status in (
            statuses.MEETING_STATUS_WAITINGFORHOST,
            statuses.MEETING_STATUS_IN_WAITING_ROOM,
        ):
            self._report(Step.WAITING)
        elif status == statuses.MEETING_STATUS_FAILED:
            self._out(self._outcomes.dropped(result), self._outcomes.join_failed(result))
        elif status == statuses.MEETING_STATUS_ENDED:
            refused = JoinError(
                SubCode.MEETING_JOIN_REFUSED, "the meeting ended before the bot got in"
            )
            self._out(self._outcomes.ended(result), refused)

    def _admitted(self) -> None:
        self._report(Step.ADMITTED)
        self._meeting = InMeeting(
            self._sdk, self._meeting_service, self._emit, self._push_audio, self._keep
        )
        self._meeting.start()

    def _out(self, in_call: SubCode, joining: JoinError) -> None:
        """The bot is out of the meeting: as it asked, or because it was ended or refused."""
        if self._leaving:
            self._report(Step.LEFT)
        elif self._meeting is not None:
            self._emit(MeetingEnded(in_call))
        else:
            self._report(joining)

    def _clean_up(self) -> None:
        """Stop the raw audio, destroy the services and clean up the SDK, here, on its thread."""
        steps: list[tuple[str, Callable[[], object]]] = []
        if self._meeting is not None:
            steps.append(("unSubscribe", self._meeting.stop))
        if self._meeting_service is not None:
            steps.append(
                (
                    "DestroyMeetingService",
                    lambda: self._sdk.DestroyMeetingService(self._meeting_service),
                )
            )
        if self._auth_service is not None:
            steps.append(
                ("DestroyAuthService", lambda: self._sdk.DestroyAuthService(self._auth_service))
            )
        steps.append(("CleanUPSDK", self._sdk.CleanUPSDK))
        for name, step in steps:
            try:
                step()
            except Exception:
                log.exception("Zoom SDK cleanup step failed", step=name)

"""`ZoomAdapter`: a bot in a Zoom meeting, through the Zoom Meeting SDK.

The SDK lives on a thread of its own (`session.SdkThread`); this side, on the
bot's event loop, starts that thread, waits for it to get the bot into the
meeting, and asks it to leave. Meeting events come from the SDK thread through
`_emit`, which batches them onto the loop.

The SDK does not let go of a process cleanly: after it ran, the only safe end
is `CleanUPSDK` on its thread and then `os._exit`. `exits_hard` tells the
runner so.
"""

import asyncio
import contextlib
import importlib
from collections.abc import Callable
from types import ModuleType

import structlog

from unmixed.logs import register_secret
from unmixed.platforms.base import JoinError, MeetingAdapter, WaitingRoom
from unmixed.platforms.zoom.credentials import ZoomCredentials, sdk_jwt
from unmixed.platforms.zoom.mainloop import GLibMainContext, MainContext
from unmixed.platforms.zoom.sandbox import ProcessSandbox
from unmixed.platforms.zoom.session import JoinRequest, Progress, SdkThread, Step
from unmixed.wire.bots import ZoomOptions
from unmixed.wire.meeting_url import MeetingUrl
from unmixed.wire.status import SubCode

AUTH_SECONDS = 30.0
"""From starting the SDK to Zoom's answer on the app's credentials (offline: about 12 s)."""
CONNECT_SECONDS = 60.0
"""From `Join` to being in the meeting or told to wait (a wrong password can hang here)."""
LEAVE_SECONDS = 10.0
"""How long the SDK gets to confirm the bot left before it is cleaned up regardless."""
CLEANUP_SECONDS = 30.0
"""How long `CleanUPSDK` (1-2 s normally) may take before the bot gives up on it."""

log = structlog.get_logger(__name__)


class ZoomAdapter(MeetingAdapter):
    reports_speech = True
    exits_hard = True
    """The process must end with `os._exit` once the SDK has run (see the module doc)."""

    def __init__(
        self,
        meeting: MeetingUrl,
        options: ZoomOptions | None,
        credentials: ZoomCredentials,
        *,
        sdk: ModuleType | None = None,
        main_context: MainContext | None = None,
    ) -> None:
        """`sdk` and `main_context` default to the real SDK and GLib's default context;
        importing the SDK here lets the factory turn its absence into a clear error."""
        super().__init__()
        self._sdk = sdk if sdk is not None else importlib.import_module("zoom_meeting_sdk")
        self._context = main_context if main_context is not None else GLibMainContext()
        self._meeting = meeting
        self._options = options or ZoomOptions()
        self._credentials = credentials
        for secret in (
            meeting.meeting_password,
            credentials.client_secret,
            self._options.obf_token,
            self._options.zak_token,
            self._options.join_token_local_recording,
        ):
            register_secret(secret)
        self._sandbox = ProcessSandbox()
        self._session: SdkThread | None = None
        self._progress: asyncio.Queue[Progress] = asyncio.Queue()

    async def _join(self, bot_name: str) -> None:
        if not self._meeting.meeting_id.isdecimal():
            raise JoinError(SubCode.MEETING_NOT_FOUND, "a Zoom meeting id is a number")
        token = sdk_jwt(self._credentials)
        register_secret(token)
        session = SdkThread(
            self._sdk,
            self._context,
            token,
            self._join_request(bot_name),
            self._reporter(asyncio.get_running_loop()),
            self._emit,
            self._push_audio,
        )
        self._sandbox.enter()
        self._session = session
        session.thread.start()
        try:
            await self._until_admitted()
        except Exception:
            await self._shut_down()
            raise

    async def leave(self) -> None:
        """Leave the meeting and clean the SDK up; never raises."""
        try:
            await self._shut_down()
        except Exception:
            log.exception("leaving the Zoom meeting failed")

    def _join_request(self, bot_name: str) -> JoinRequest:
        options = self._options
        return JoinRequest(
            meeting_number=int(self._meeting.meeting_id),
            user_name=bot_name,
            password=self._meeting.meeting_password or "",
            zak=options.zak_token,
            on_behalf=options.obf_token,
            app_privilege=options.join_token_local_recording,
        )

    def _reporter(self, loop: asyncio.AbstractEventLoop) -> Callable[[Progress], None]:
        """How the SDK thread tells this side how the join (or the leave) goes."""

        def report(progress: Progress) -> None:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting
                loop.call_soon_threadsafe(self._progress.put_nowait, progress)

        return report

    async def _until_admitted(self) -> None:
        """Wait for the SDK thread to get the bot in; a deadline applies until the
        meeting says to wait (the runner's waiting-room timeout applies from there)."""
        timeout: float | None = AUTH_SECONDS
        awaited = "Zoom's answer on the SDK app"
        waited = False
        while True:
            try:
                async with asyncio.timeout(timeout):
                    step = await self._progress.get()
            except TimeoutError as error:
                message = f"gave up waiting for {awaited}"
                raise JoinError(SubCode.ZOOM_JOIN_TIMEOUT, message) from error
            if isinstance(step, Exception):
                raise step
            if step is Step.ADMITTED:
                return
            if step is Step.AUTHENTICATED:
                timeout, awaited = CONNECT_SECONDS, "the meeting to let the bot in"
            elif step is Step.WAITING and not waited:
                waited, timeout = True, None
                self._emit(WaitingRoom())

    async def _shut_down(self) -> None:
        """Leave, then have the SDK thread clean up and end; safe to call twice."""
        session, self._session = self._session, None
        if session is None:
            return
        session.post(session.leave_meeting)
        await self._until_left()
        session.post(session.stop)
        await asyncio.to_thread(session.thread.join, CLEANUP_SECONDS)
        if session.thread.is_alive():
            log.error("the Zoom SDK did not clean up in time; it stays as it is until exit")
            return
        self._sandbox.exit()

    async def _until_left(self) -> None:
        try:
            async with asyncio.timeout(LEAVE_SECONDS):
                while (step := await self._progress.get()) is not Step.LEFT:
                    if isinstance(step, Exception):
                        log.warning(
                            "the Zoom SDK reported a failure while leaving", error=str(step)
                        )
        except TimeoutError:
            log.warning("the Zoom SDK did not confirm leaving the meeting in time")

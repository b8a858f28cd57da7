"""The bot inside a Zoom meeting: who is there, who is unmuted, the recording
privilege, and each participant's raw audio.

Everything here runs on the SDK thread (the SDK calls back there), except the
one-way audio callback, whose thread the SDK does not promise; it only reads
state that is set before the subscription starts. Events go to the bot through
`emit`, which is safe from any thread.
"""

import time
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np
import structlog

from unmixed.media import PcmFrame
from unmixed.media.frames import Clock
from unmixed.platforms.base import (
    ActiveSpeaker,
    AudioStarted,
    AudioStopped,
    MeetingEvent,
    Participant,
    ParticipantJoined,
    ParticipantLeft,
    ParticipantUpdated,
    RecordingPermission,
)
from unmixed.platforms.zoom.guard import guarded
from unmixed.wire.status import SubCode

log = structlog.get_logger(__name__)


class InMeeting:
    """Built when the status reaches INMEETING; `stop` before the SDK is cleaned up."""

    def __init__(
        self,
        sdk: ModuleType,
        service: Any,
        emit: Callable[[MeetingEvent], None],
        push_audio: Callable[[str, PcmFrame], None],
        keep: list[object],
    ) -> None:
        self._sdk = sdk
        self._emit = emit
        self._push_audio = push_audio
        self._keep = keep
        """Callbacks objects and the raw-data helper: the SDK crashes if they are collected."""
        self._success = sdk.SDKError.SDKERR_SUCCESS
        self._unsupported = sdk.SDKError.SDKERR_MEETING_DONT_SUPPORT_FEATURE
        status = sdk.AudioStatus
        self._muting = {status.Audio_Muted, status.Audio_Muted_ByHost, status.Audio_MutedAll_ByHost}
        self._unmuting = {
            status.Audio_UnMuted,
            status.Audio_UnMuted_ByHost,
            status.Audio_UnMutedAll_ByHost,
        }
        self._participants = service.GetMeetingParticipantsController()
        self._audio = service.GetMeetingAudioController()
        self._recording = service.GetMeetingRecordingController()
        myself = self._participants.GetMySelfUser()
        self._me: int | None = myself.GetUserID() if myself is not None else None
        self._present: set[int] = set()
        self._flowing: set[int] = set()
        self._host: int | None = None
        self._asked = False
        self._granted = False
        self._helper: Any = None
        self._delegate: Any = None
        self._subscribed = False

    def start(self) -> None:
        """Listen for changes, report who is here already, join audio, seek the privilege."""
        self._listen()
        for user_id in self._participants.GetParticipantsList():
            self._arrived(user_id)
        self._audio.JoinVoip()
        self._seek_permission()

    def stop(self) -> None:
        """Stop the raw audio; the SDK thread calls this before `CleanUPSDK`."""
        if self._subscribed:
            self._helper.unSubscribe()
            self._subscribed = False

    def _listen(self) -> None:
        sdk = self._sdk
        callbacks = (
            sdk.MeetingParticipantsCtrlEventCallbacks(
                onUserJoinCallback=guarded(self._on_user_join),
                onUserLeftCallback=guarded(self._on_user_left),
                onHostChangeNotificationCallback=guarded(self._on_host_change),
            ),
            sdk.MeetingAudioCtrlEventCallbacks(
                onUserAudioStatusChangeCallback=guarded(self._on_audio_status),
                onUserActiveAudioChangeCallback=guarded(self._on_active_audio),
            ),
            sdk.MeetingRecordingCtrlEventCallbacks(
                onRecordPrivilegeChangedCallback=guarded(self._on_privilege_changed),
                onLocalRecordingPrivilegeRequestStatusCallback=guarded(self._on_request_status),
            ),
        )
        self._keep.extend(callbacks)
        for controller, events in zip(
            (self._participants, self._audio, self._recording), callbacks, strict=True
        ):
            controller.SetEvent(events)

    def _participant(self, user_id: int, info: Any) -> Participant:
        return Participant(
            key=str(user_id),
            name=info.GetUserName(),
            is_host=info.IsHost(),
            platform="desktop",
            separation="per_participant",
            extra={"user_guid": info.GetPersistentId() or "", "conf_user_id": str(user_id)},
        )

    def _arrived(self, user_id: int) -> None:
        if user_id == self._me or user_id in self._present:
            return
        info = self._participants.GetUserByUserID(user_id)
        if info is None:
            return
        self._present.add(user_id)
        participant = self._participant(user_id, info)
        if participant.is_host:
            self._host = user_id
        self._emit(ParticipantJoined(participant))
        if not info.IsAudioMuted():
            self._audio_on(user_id)

    def _audio_on(self, user_id: int) -> None:
        if user_id not in self._flowing:
            self._flowing.add(user_id)
            self._emit(AudioStarted(str(user_id)))

    def _audio_off(self, user_id: int) -> None:
        if user_id in self._flowing:
            self._flowing.discard(user_id)
            self._emit(AudioStopped(str(user_id)))

    def _on_user_join(self, user_ids: list[int], _: str) -> None:
        for user_id in user_ids:
            self._arrived(user_id)

    def _on_user_left(self, user_ids: list[int], _: str) -> None:
        for user_id in user_ids:
            if user_id in self._present:
                self._audio_off(user_id)
                self._present.discard(user_id)
                self._emit(ParticipantLeft(str(user_id)))

    def _on_host_change(self, user_id: int) -> None:
        previous, self._host = self._host, user_id
        for changed in (user_id, previous):
            info = None if changed is None else self._participants.GetUserByUserID(changed)
            if changed in self._present and info is not None:
                self._emit(ParticipantUpdated(self._participant(changed, info)))
        if not self._granted:
            self._seek_permission()

    def _on_audio_status(self, statuses: list[Any], _: str) -> None:
        for status in statuses:
            user_id = status.GetUserId()
            if user_id == self._me or user_id not in self._present:
                continue
            audio = status.GetStatus()
            if audio in self._muting:
                self._audio_off(user_id)
            elif audio in self._unmuting:
                self._audio_on(user_id)

    def _on_active_audio(self, user_ids: list[int]) -> None:
        speaking = [user_id for user_id in user_ids if user_id in self._present]
        self._emit(ActiveSpeaker(str(speaking[0]) if speaking else None))

    def _seek_permission(self) -> None:
        """Record straight away if allowed (host, co-host, a local-recording token);
        otherwise ask the host, whose answer comes as a callback."""
        recording = self._recording
        if recording.CanStartRawRecording() == self._success:
            self._grant()
            return
        if recording.IsSupportRequestLocalRecordingPrivilege() == self._unsupported:
            self._emit(RecordingPermission(False, sub_code=SubCode.ZOOM_HOST_CLIENT_CANNOT_GRANT))
            return
        result = recording.RequestLocalRecordingPrivilege()
        if result == self._success:
            self._asked = True
        else:
            log.warning("could not ask the host for the recording privilege", result=result.name)

    def _on_request_status(self, status: Any) -> None:
        answers = self._sdk.RequestLocalRecordingStatus
        if status == answers.RequestLocalRecording_Granted:
            self._grant()
        elif status == answers.RequestLocalRecording_Timeout:
            self._refused(SubCode.ZOOM_RECORDING_PERMISSION_TIMEOUT)
        else:
            self._refused(SubCode.ZOOM_RECORDING_PERMISSION_DENIED)

    def _on_privilege_changed(self, can_record: bool) -> None:
        if can_record:
            self._grant()
        elif self._granted:
            self.stop()
            self._recording.StopRawRecording()
            self._granted = False
            self._refused(SubCode.ZOOM_RECORDING_PERMISSION_DENIED)

    def _refused(self, sub_code: SubCode) -> None:
        if not self._granted:
            self._emit(RecordingPermission(False, asked=self._asked, sub_code=sub_code))

    def _grant(self) -> None:
        """Start raw recording and subscribe to every participant's own audio."""
        if self._granted:
            return
        started = self._recording.StartRawRecording()
        if started != self._success:
            log.error("the SDK would not start raw recording", result=started.name)
            return
        if self._helper is None:
            self._helper = self._sdk.GetAudioRawdataHelper()
            self._keep.append(self._helper)
            self._delegate = self._sdk.ZoomSDKAudioRawDataDelegateCallbacks(
                onOneWayAudioRawDataReceivedCallback=guarded(self._on_one_way_audio)
            )
            self._keep.append(self._delegate)
        subscribed = self._helper.subscribe(self._delegate, False)
        if subscribed != self._success:
            log.error("the SDK would not give the raw audio", result=subscribed.name)
            return
        self._subscribed = self._granted = True
        self._emit(RecordingPermission(True, asked=self._asked))

    def _on_one_way_audio(self, data: Any, node_id: int) -> None:
        """One participant's 10 ms, timed by its arrival (the SDK gives no capture time)."""
        if node_id == self._me:
            return
        arrived = time.time()
        samples = np.frombuffer(data.GetBuffer(), dtype=np.int16)
        samples = samples.reshape(-1, data.GetChannelNum())
        rate = data.GetSampleRate()
        frame = PcmFrame(samples, rate, arrived - len(samples) / rate, Clock.ARRIVAL)
        self._push_audio(str(node_id), frame)

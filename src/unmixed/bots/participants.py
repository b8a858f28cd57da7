"""Platform participants as the contract shows them: small integer ids, in order of arrival."""

from unmixed.platforms.base import Participant as PlatformParticipant
from unmixed.wire.realtime import Participant


class ParticipantDirectory:
    """Gives each participant the next integer id the first time the platform reports them.

    The id never changes for the rest of the meeting, and the platform's own
    ids travel along in `extra_data` for clients that need them.
    """

    def __init__(self) -> None:
        self._by_key: dict[str, Participant] = {}

    def add(self, participant: PlatformParticipant) -> Participant:
        """The participant's entry, made the first time they are seen."""
        known = self._by_key.get(participant.key)
        if known is not None:
            return known
        entry = _entry(len(self._by_key) + 1, participant)
        self._by_key[participant.key] = entry
        return entry

    def update(self, participant: PlatformParticipant) -> Participant:
        """A new name or host status, under the id they already have."""
        known = self._by_key.get(participant.key)
        if known is None:
            return self.add(participant)
        entry = _entry(known.id, participant)
        self._by_key[participant.key] = entry
        return entry

    def get(self, key: str) -> Participant | None:
        return self._by_key.get(key)


def _entry(participant_id: int, participant: PlatformParticipant) -> Participant:
    return Participant(
        id=participant_id,
        name=participant.name,
        is_host=participant.is_host,
        platform=participant.platform,
        extra_data={
            **participant.extra,
            "platform_id": participant.key,
            "separation": participant.separation,
        },
    )

"""Platform participants as the contract shows them: small integer ids, in order of arrival."""

from unmixed.platforms.base import Participant as PlatformParticipant
from unmixed.wire.realtime import Participant


class ParticipantDirectory:
    """Gives each participant the next integer id the first time the platform reports them.

    The id never changes for the rest of the meeting, and the platform's own
    id travels along in `extra_data` for clients that need it.
    """

    def __init__(self) -> None:
        self._by_key: dict[str, Participant] = {}

    def add(self, participant: PlatformParticipant) -> Participant:
        known = self._by_key.get(participant.key)
        if known is not None:
            return known
        entry = Participant(
            id=len(self._by_key) + 1,
            name=participant.name,
            is_host=participant.is_host,
            platform=participant.platform,
            extra_data={"platform_id": participant.key, "separation": participant.separation},
        )
        self._by_key[participant.key] = entry
        return entry

    def get(self, key: str) -> Participant | None:
        return self._by_key.get(key)

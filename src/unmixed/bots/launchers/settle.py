"""What a launcher that watched a bot's process end writes about it."""

import signal

import structlog

from unmixed.bots.exits import ALREADY_CLAIMED_EXIT_CODE
from unmixed.bots.lease import process_holder
from unmixed.store import Bots
from unmixed.store.leases import Leases
from unmixed.wire.status import StatusCode, SubCode

log = structlog.get_logger(__name__)


def settle_exit(
    bots: Bots, leases: Leases, bot_id: str, pid: int, exit_code: int | None, *, stopping: bool
) -> None:
    """Nothing, if the process (`pid`) finished its bot or never had it (another
    process claimed it first). A bot stopped by SIGTERM while its launcher was
    `stopping`, before it could handle the signal itself, has left as asked. Any
    other is lost: ended at once, not when its lease runs out."""
    if exit_code == ALREADY_CLAIMED_EXIT_CODE:
        return
    if stopping and exit_code == -signal.SIGTERM:
        for code, sub_code in (
            (StatusCode.CALL_ENDED, SubCode.BOT_RECEIVED_LEAVE_CALL),
            (StatusCode.DONE, None),
        ):
            bots.change_status(bot_id, code, sub_code)
        return
    if leases.process_ended(bot_id, process_holder(pid)):
        log.error("bot process ended before its bot finished", bot=bot_id, exit_code=exit_code)

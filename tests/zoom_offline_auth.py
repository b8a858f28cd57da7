"""Child process for test_zoom_contract: the Zoom adapter on the real SDK, offline.

Prints one JSON line: the sub_code the join failed with, how long it took, and
whether the process sandbox was undone. Ends with `os._exit`, the only clean end
for a process that ran `InitSDK`.
"""

import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.recording import MeetingRecord
from unmixed.logs import configure_logging, flush_logs
from unmixed.platforms.base import JoinError
from unmixed.platforms.zoom import ZoomAdapter, ZoomCredentials
from unmixed.wire.meeting_url import parse_meeting_url

NO_X_SERVER = ":12345"
"""A DISPLAY with nothing behind it: the adapter must unset it, and put it back."""


async def attempt() -> dict[str, Any]:
    home = os.environ["HOME"]
    os.environ["DISPLAY"] = NO_X_SERVER
    adapter = ZoomAdapter(
        parse_meeting_url("https://zoom.us/j/1234567890?pwd=s3cret-pw"),
        None,
        ZoomCredentials("FAKEclientID0123456789", "FAKEsecretFAKEsecretFAKEsecret12"),
    )
    started = time.monotonic()
    sub_code = None
    try:
        await adapter.join("Notetaker", lambda event: None, MeetingRecord().audio_inputs)
    except JoinError as error:
        sub_code = error.sub_code
    seconds = time.monotonic() - started
    await adapter.leave()
    leftovers = list(Path(tempfile.gettempdir()).glob("unmixed-zoom-home-*"))
    return {
        "sub_code": sub_code,
        "seconds": round(seconds, 1),
        "home_restored": os.environ["HOME"] == home and not Path(home, ".zoomsdk").exists(),
        "sandbox_removed": leftovers == [],
        "display_restored": os.environ.get("DISPLAY") == NO_X_SERVER,
    }


def main() -> None:
    configure_logging(process="zoom-offline")
    result = asyncio.run(attempt())
    print(json.dumps(result), flush=True)
    flush_logs()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()

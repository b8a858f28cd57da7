"""What a bot process loads: its own platform's library and nothing it does not need.
A Zoom bot carries no WebRTC stack, no bot carries the migration tool or the web
framework, and no bot that is not a Zoom bot loads the 200 MB Zoom SDK."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("aiortc", "alembic", "fastapi", "zoom_meeting_sdk")


def modules_after_importing(module: str) -> dict[str, bool]:
    probe = (
        f"import json, sys, {module}; "
        f"print(json.dumps({{name: name in sys.modules for name in {list(HEAVY)!r}}}))"
    )
    output = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    loaded: dict[str, bool] = json.loads(output)
    return loaded


@pytest.mark.parametrize(
    ("module", "expected"),
    [
        ("unmixed.bots.runner", set()),
        ("unmixed.platforms.zoom", set()),
        ("unmixed.platforms.testbed", {"aiortc"}),
        ("unmixed.api", {"fastapi"}),
    ],
)
def test_each_module_loads_only_what_it_needs(module: str, expected: set[str]) -> None:
    loaded = {name for name, present in modules_after_importing(module).items() if present}
    assert loaded == expected


@pytest.mark.parametrize(("testbed_enabled", "expected"), [("false", set()), ("true", {"aiortc"})])
def test_the_warm_bot_process_loads_only_what_its_bots_share(
    testbed_enabled: str, expected: set[str], tmp_path: Path
) -> None:
    """Bots forked from it carry what it loaded: no Playwright or Zoom SDK for any of
    them, and aiortc only where testbed meetings are on."""
    heavy = [*HEAVY, "playwright"]
    probe = (
        "import json, sys; from unmixed.bots import zygote; zygote.preload(); "
        f"print(json.dumps([name for name in {heavy!r} if name in sys.modules]))"
    )
    environment = {
        **os.environ,
        "UNMIXED_DATA_DIR": str(tmp_path),
        "UNMIXED_TESTBED_ENABLED": testbed_enabled,
    }
    output = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=environment
    ).stdout
    assert set(json.loads(output)) == expected

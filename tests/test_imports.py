"""What a bot process loads: its own platform's library and nothing it does not need.
A Zoom bot carries no WebRTC stack, no bot carries the migration tool or the web
framework, and no bot that is not a Zoom bot loads the 200 MB Zoom SDK."""

import json
import subprocess
import sys

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

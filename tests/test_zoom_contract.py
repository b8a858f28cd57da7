"""The Zoom adapter against the real `zoom_meeting_sdk` 0.0.27.

- The contract: a scripted meeting is replayed through the adapter with the fake
  SDK wrapped in a tracer, which records every module function, class, method,
  field and enum member the adapter touches, with the type of each argument it
  passes, and every callback the fake calls, with its number of arguments. Each
  is checked against the installed SDK's nanobind signatures, class bases and
  enums (described by a child process, `tests/zoom_sdk_surface.py`, so the SDK is
  never loaded into pytest). The list is what the adapter really does, never one
  kept by hand.
- The real SDK: a child process runs the adapter through real `InitSDK` and
  `SDKAuth` with well-formed credentials Zoom cannot confirm (no network here),
  and must end `zoom_auth_failed`. It is a child because a process that ran
  `InitSDK` can only end with `CleanUPSDK` and `os._exit`.
"""

import asyncio
import importlib.util
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.fake_zoom_sdk import FakeZoomSdk, MakeHost, Mute, Params, Script, SdkObject, User
from tests.recording import MeetingRecord
from unmixed.platforms.base import MeetingEvent
from unmixed.platforms.zoom import ZoomAdapter, ZoomCredentials
from unmixed.wire.bots import ZoomOptions
from unmixed.wire.meeting_url import parse_meeting_url

if importlib.util.find_spec("zoom_meeting_sdk") is None:
    pytest.skip(
        "the Zoom SDK is not installed (pip install 'unmixed[zoom]')", allow_module_level=True
    )
REPO = Path(__file__).resolve().parent.parent
Surface = dict[str, Any]
"""The installed SDK, as `tests/zoom_sdk_surface.py` describes it."""


def child_environment(home: Path) -> dict[str, str]:
    """The SDK writes under HOME, even on import: give the child one of its own."""
    (home / "tmp").mkdir(parents=True, exist_ok=True)
    return {**os.environ, "HOME": str(home), "TMPDIR": str(home / "tmp"), "PYTHONPATH": str(REPO)}


@pytest.fixture(scope="module")
def surface(tmp_path_factory: pytest.TempPathFactory) -> Surface:
    child = subprocess.run(
        [sys.executable, "-m", "tests.zoom_sdk_surface"],
        cwd=REPO,
        env=child_environment(tmp_path_factory.mktemp("zoom-surface-home")),
        capture_output=True,
        timeout=60,
        check=True,
    )
    described: Surface = json.loads(child.stdout)
    assert len(described["classes"]) > 50
    return described


# ----------------------------------------------------------------------------- the tracer


@dataclass
class Trace:
    """What the adapter touched on the SDK, and what the SDK called back."""

    calls: set[tuple[str, str, tuple[str, ...], frozenset[str]]] = field(default_factory=set)
    """(owner, name, the type of each positional argument, keyword names); owner is a
    class or `module`; a type is the SDK class or enum name, or a builtin's name."""
    reads: set[tuple[str, str]] = field(default_factory=set)
    writes: list[tuple[str, str, Any]] = field(default_factory=list)
    members: set[tuple[str, str]] = field(default_factory=set)


class TracedEnum:
    def __init__(self, enum: type[Enum], trace: Trace) -> None:
        self._enum, self._trace = enum, trace

    def __getattr__(self, name: str) -> Any:
        self._trace.members.add((self._enum.__name__, name))
        return getattr(self._enum, name)

    def __call__(self, value: Any) -> Any:
        self._trace.calls.add(("enum", self._enum.__name__, (type(value).__name__,), frozenset()))
        return self._enum(value)


class Traced:
    """A fake SDK object (or the module) seen through the tracer."""

    def __init__(self, target: Any, owner: str, trace: Trace) -> None:
        object.__setattr__(self, "_target", target)
        object.__setattr__(self, "_owner", owner)
        object.__setattr__(self, "_trace", trace)

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if isinstance(value, type) and issubclass(value, Enum):
            return TracedEnum(value, self._trace)
        if callable(value):
            return self._traced_call(name, value)
        self._trace.reads.add((self._owner, name))
        return wrap(value, self._trace)

    def __setattr__(self, name: str, value: Any) -> None:
        self._trace.writes.append((self._owner, name, value))
        setattr(self._target, name, unwrap(value))

    def _traced_call(self, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        trace = self._trace

        def call(*args: Any, **kwargs: Any) -> Any:
            kinds = tuple(kind_of(arg) for arg in args)
            trace.calls.add((self._owner, name, kinds, frozenset(kwargs)))
            plain = {key: traced_callback(value, trace) for key, value in kwargs.items()}
            return wrap(method(*map(unwrap, args), **plain), trace)

        return call


def wrap(value: Any, trace: Trace) -> Any:
    if isinstance(value, SdkObject | Params | ModuleType):
        return Traced(value, type(value).__name__, trace)
    if isinstance(value, list):
        return [wrap(item, trace) for item in value]
    return value


def kind_of(value: Any) -> str:
    if isinstance(value, Traced):
        return str(object.__getattribute__(value, "_owner"))
    return type(value).__name__


def unwrap(value: Any) -> Any:
    return object.__getattribute__(value, "_target") if isinstance(value, Traced) else value


def traced_callback(callback: Any, trace: Trace) -> Any:
    """The adapter's callback, given traced arguments, so its calls on them are seen."""
    if not callable(callback):
        return callback
    return lambda *args: callback(*(wrap(arg, trace) for arg in args))


# ----------------------------------------------------------------------------- signatures


@dataclass(frozen=True)
class Signature:
    required: int
    positional: float
    names: frozenset[str]
    types: tuple[str, ...]
    """Each parameter's annotated type, by its last name (`IMeetingServiceEvent`, `int`)."""


def split_top_level(text: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in text:
        depth += char in "[({"
        depth -= char in "])}"
        if char == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    if current.strip():
        parts.append(current.strip())
    return parts


def inside(text: str, opening: str) -> str:
    """What the first `opening` bracket in `text` encloses."""
    start = text.index(opening) + 1
    depth = 1
    for index, char in enumerate(text[start:], start):
        depth += char in "[({"
        depth -= char in "])}"
        if depth == 0:
            return text[start:index]
    raise ValueError(text)


def parameters(signature: str) -> list[str]:
    """The parameter texts of a nanobind signature `def f(self, a: T, b: T = \\0, /) -> R`."""
    return split_top_level(inside(signature, "("))


def parsed(texts: list[str]) -> list[Signature]:
    """Every overload, without `self`."""
    found = []
    for text in texts:
        params = [p for p in parameters(text) if p not in ("self", "/", "*")]
        names = [re.split(r"[:=]", p)[0].strip() for p in params]
        required = sum("=" not in p for p in params)
        positional = float("inf") if any(n.startswith("*") for n in names) else len(params)
        types = tuple(p.partition(":")[2].partition("=")[0].strip().split(".")[-1] for p in params)
        found.append(Signature(required, positional, frozenset(names), types))
    return found


def fits(surface: Surface, kind: str, annotated: str) -> bool:
    """An argument of SDK class, enum or builtin `kind` may go where `annotated` is expected."""
    described = surface["classes"].get(kind)
    return kind == annotated or (described is not None and annotated in described["bases"])


def accepts(
    surface: Surface, texts: list[str], kinds: tuple[str, ...], kwargs: frozenset[str]
) -> bool:
    return any(
        s.required <= len(kinds) + len(kwargs)
        and len(kinds) <= s.positional
        and kwargs <= s.names
        and all(
            fits(surface, kind, annotated) for kind, annotated in zip(kinds, s.types, strict=False)
        )
        for s in parsed(texts)
    )


def callable_signatures(surface: Surface, owner: str, name: str) -> list[str] | None:
    """The signatures of `owner.name` (a class's name: its constructor), None if missing."""
    if owner == "module":
        if name in surface["classes"]:
            return list(surface["classes"][name]["members"]["__init__"])
        return surface["functions"].get(name)
    described = surface["classes"].get(owner)
    return None if described is None else described["members"].get(name)


def callback_arity(surface: Surface, kind: str, callback: str) -> int:
    """How many arguments the real SDK passes to `callback` (from `Callable[[...], None]`)."""
    for param in parameters(surface["classes"][kind]["members"]["__init__"][0]):
        name, _, annotation = param.partition(":")
        if name.strip() == callback:
            callable_type = annotation[annotation.index("Callable[") :]
            return len(split_top_level(inside(inside(callable_type, "["), "[")))
    raise AssertionError(f"{kind} has no {callback}")


# ----------------------------------------------------------------------------- the replay

SCRIPT = Script(
    users=[
        User(1, "Alice", 440.0, is_host=True),
        User(2, "Bob", 660.0, muted=True),
        User(3, "Carol", 880.0, joins_at=0.4, leaves_at=1.2),
    ],
    actions=[
        Mute(0.6, 2, False),
        Mute(0.9, 1, True, by_host=True),
        MakeHost(1.0, 2),
    ],
    waiting_room=0.2,
)
OPTIONS = ZoomOptions(
    obf_token="obf-token-1", zak_token="zak-token-1", join_token_local_recording="jt-1"
)


async def replay(sdk: ModuleType, main_context: Any) -> list[MeetingEvent]:
    events: list[MeetingEvent] = []
    adapter = ZoomAdapter(
        parse_meeting_url("https://zoom.us/j/1234567890?pwd=s3cret-pw"),
        OPTIONS,
        ZoomCredentials("client-id", "client-secret-0123456789abcdef0123"),
        sdk=sdk,
        main_context=main_context,
    )
    await adapter.join("Notetaker", events.append, MeetingRecord().audio_inputs)
    await asyncio.sleep(2.0)
    await adapter.leave()
    return events


@pytest.fixture(scope="module")
async def traced() -> tuple[Trace, FakeZoomSdk]:
    fake = FakeZoomSdk(SCRIPT)
    trace = Trace()
    events = await replay(Traced(fake, "module", trace), fake.main_context)  # type: ignore[arg-type]
    assert events, "the replay produced no events"
    assert fake.violations == []
    assert fake.cleaned_up
    return trace, fake


def test_the_replay_touched_the_whole_flow(traced: tuple[Trace, FakeZoomSdk]) -> None:
    """Guards against a vacuous contract: each phase of the adapter's use of the SDK shows."""
    trace, _ = traced
    called = {(owner, name) for owner, name, _, _ in trace.calls}
    for expected in [
        ("module", "InitSDK"),
        ("IAuthService", "SDKAuth"),
        ("IMeetingService", "Join"),
        ("IMeetingParticipantsController", "GetUserByUserID"),
        ("IMeetingRecordingController", "StartRawRecording"),
        ("IZoomSDKAudioRawDataHelper", "subscribe"),
        ("AudioRawData", "GetBuffer"),
        ("IUserAudioStatus", "GetStatus"),
        ("IMeetingService", "Leave"),
        ("module", "CleanUPSDK"),
    ]:
        assert expected in called
    assert len(trace.calls) > 40
    assert ("JoinParam4WithoutLogin", "psw") in {(o, n) for o, n, _ in trace.writes}


def test_every_call_exists_on_the_real_sdk_with_compatible_arguments(
    traced: tuple[Trace, FakeZoomSdk], surface: Surface
) -> None:
    trace, _ = traced
    wrong = []
    for owner, name, kinds, kwargs in sorted(trace.calls, key=str):
        if owner == "enum":
            continue
        texts = callable_signatures(surface, owner, name)
        if texts is None:
            wrong.append(f"{owner}.{name} does not exist")
        elif not accepts(surface, texts, kinds, kwargs):
            wrong.append(f"{owner}.{name}({', '.join(kinds)}, {sorted(kwargs)}) does not fit")
    assert wrong == []


def test_every_field_exists_and_takes_the_type_given(
    traced: tuple[Trace, FakeZoomSdk], surface: Surface
) -> None:
    trace, _ = traced
    for owner, name in trace.reads:
        assert f"get:{name}" in surface["classes"][owner]["members"], f"{owner}.{name}"
    for owner, name, value in trace.writes:
        setter = surface["classes"][owner]["members"].get(f"set:{name}")
        assert setter is not None, f"{owner}.{name} cannot be set"
        assert accepts(surface, setter, (kind_of(value),), frozenset()), f"{owner}.{name}"


def test_every_enum_member_exists_with_the_fakes_value(
    traced: tuple[Trace, FakeZoomSdk], surface: Surface
) -> None:
    trace, fake = traced
    assert len(trace.members) > 20
    for enum, member in trace.members:
        assert surface["enums"][enum][member] == getattr(getattr(fake, enum), member).value


def test_the_fakes_callbacks_have_the_real_sdks_shape(
    traced: tuple[Trace, FakeZoomSdk], surface: Surface
) -> None:
    """The other direction: what the fake calls the adapter with, the real SDK would too."""
    _, fake = traced
    assert len(fake.fired) >= 9
    for kind, callback, args in fake.fired:
        assert callback_arity(surface, kind, callback) == args, f"{kind}.{callback}"


def test_every_callback_the_adapter_registers_was_called_in_the_replay(
    traced: tuple[Trace, FakeZoomSdk],
) -> None:
    """So the check above saw the arguments of each of the adapter's callbacks."""
    trace, fake = traced
    registered = {
        (kind, callback)
        for owner, kind, _, callbacks in trace.calls
        if owner == "module" and kind.endswith("Callbacks")
        for callback in callbacks
    }
    fired = {(kind, callback) for kind, callback, _ in fake.fired}
    assert len(registered) >= 9
    assert registered <= fired


def test_every_fake_enum_agrees_with_the_real_one(surface: Surface) -> None:
    fake = FakeZoomSdk(Script(users=[]))
    for name in dir(fake):
        value = getattr(fake, name)
        if isinstance(value, type) and issubclass(value, Enum):
            assert {m.name: m.value for m in value}.items() <= surface["enums"][name].items()


def test_the_checks_themselves_catch_a_mismatch(surface: Surface) -> None:
    """The contract above would pass vacuously if these did not fail."""
    sdk_auth = callable_signatures(surface, "IAuthService", "SDKAuth")
    set_event = callable_signatures(surface, "IMeetingService", "SetEvent")
    callbacks = callable_signatures(surface, "module", "AuthServiceEventCallbacks")
    assert sdk_auth is not None
    assert set_event is not None
    assert callbacks is not None
    none: frozenset[str] = frozenset()
    assert accepts(surface, sdk_auth, ("AuthContext",), none)
    assert not accepts(surface, sdk_auth, (), none)
    assert not accepts(surface, sdk_auth, ("JoinParam",), none)
    assert not accepts(surface, sdk_auth, ("AuthContext", "int"), none)
    assert accepts(surface, set_event, ("MeetingServiceEventCallbacks",), none)
    assert not accepts(surface, set_event, ("AuthServiceEventCallbacks",), none)
    assert accepts(surface, callbacks, (), frozenset({"onAuthenticationReturnCallback"}))
    assert not accepts(surface, callbacks, (), frozenset({"onAuthenticationReturned"}))
    setter = surface["classes"]["JoinParam4WithoutLogin"]["members"]["set:isVideoOff"]
    assert not accepts(surface, setter, ("str",), none)
    assert callable_signatures(surface, "IMeetingService", "JoinMeeting") is None
    arity = callback_arity(
        surface, "MeetingAudioCtrlEventCallbacks", "onUserAudioStatusChangeCallback"
    )
    assert arity == 2


# ----------------------------------------------------------------------------- the real SDK


@pytest.mark.timeout(120)
def test_the_real_sdk_offline_ends_zoom_auth_failed(tmp_path: Path) -> None:
    """Real InitSDK, real SDKAuth (Zoom unreachable: AUTHRET_UNKNOWN after about 12 s)."""
    environment = child_environment(tmp_path)
    started = time.monotonic()
    child = subprocess.run(
        [sys.executable, "-m", "tests.zoom_offline_auth"],
        cwd=REPO,
        env=environment,
        capture_output=True,
        timeout=100,
        check=False,
    )
    took = time.monotonic() - started
    output = child.stdout.decode(errors="replace") + child.stderr.decode(errors="replace")
    assert child.returncode == 0, output[-3000:]
    result = json.loads(child.stdout.decode().strip().splitlines()[-1])
    assert result["sub_code"] == "zoom_auth_failed", result
    assert 8 < result["seconds"] < 40, result
    assert result["home_restored"], result
    assert result["sandbox_removed"], result
    assert result["display_restored"], result
    assert "s3cret" not in output
    assert took < 90

"""Bots on two workers, as on two machines: real Redis and PostgreSQL, the API and
each worker in processes of their own, bots in a real testbed meeting streaming to a
real receiver. One meeting carries the module's story, as an operator would live it:
bots spread by free slots, a full fleet answers 507, `leave_call` reaches either
worker, a worker's machine dies, the API is killed and restarted mid-call."""

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil
import pytest
import redis

from tests.audio import assert_continuous, dominant_frequency
from tests.meeting import audio_endpoint
from tests.services import PostgresServer
from unmixed.client import AsyncUnmixedClient
from unmixed.net import free_port
from unmixed.receiver import AudioReceiver
from unmixed.testbed.meeting import TestbedMeeting
from unmixed.testbed.scenario import Scenario
from unmixed.testbed.server import JanusServer
from unmixed.wire.bots import Bot
from unmixed.wire.status import StatusCode, SubCode

API_KEY = "distributed-test-key"
TONES = {"Alice": 440.0, "Bob": 660.0}
SLOTS = {"worker-a": 2, "worker-b": 3}
LEAVE_WITHIN_SECONDS = 2.0
LOST_WITHIN_SECONDS = 30.0
UNMIXED = str(Path(sys.executable).with_name("unmixed"))


class ServiceProcess:
    """`unmixed serve` or `unmixed worker`, in a session of its own (so that killing
    its process group takes its bots too, as a machine that dies would), logging to a file."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], logs: Path) -> None:
        self.name = name
        self._argv = argv
        self._env = env
        self._log_path = logs / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self._log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [UNMIXED, *self._argv],
                env=self._env,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )

    async def wait_healthy(self, url: str, timeout: float = 30) -> None:
        async with httpx.AsyncClient() as http, asyncio.timeout(timeout):
            while True:
                assert self.process is not None
                assert self.process.poll() is None, self.log()
                try:
                    if (await http.get(url)).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)

    def kill_machine(self) -> None:
        """SIGKILL the process and everything it started, with no chance to clean up."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def bots(self) -> set[str]:
        """Ids of the bots whose processes run under this one."""
        assert self.process is not None
        running = set()
        for child in psutil.Process(self.process.pid).children(recursive=True):
            try:
                argv = child.cmdline()
            except psutil.NoSuchProcess:
                continue
            if "unmixed.bots.runner" in argv:
                running.add(argv[-1])
        return running

    def log(self) -> str:
        return self._log_path.read_text(errors="replace")[-4000:]


@dataclass
class Fleet:
    api: ServiceProcess
    api_url: str
    workers: dict[str, ServiceProcess]
    receiver: AudioReceiver
    meeting: TestbedMeeting
    bots: list[str] = field(default_factory=list)

    def client(self) -> AsyncUnmixedClient:
        return AsyncUnmixedClient(self.api_url, API_KEY)

    def on(self, worker: str) -> set[str]:
        """The unfinished bots running on `worker` (a finished one's process may still be
        draining its receivers' buffers for a few seconds)."""
        return self.workers[worker].bots() & set(self.bots)


@pytest.fixture(scope="module")
def fleet_environment(
    postgres_server: PostgresServer, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    redis.Redis.from_url(redis_url).flushdb()
    database_url = postgres_server.create_database()
    yield {
        **os.environ,
        "UNMIXED_LAUNCHER": "celery",
        "UNMIXED_DATABASE_URL": database_url,
        "UNMIXED_REDIS_URL": redis_url,
        "UNMIXED_API_KEY": API_KEY,
        "UNMIXED_TESTBED_ENABLED": "true",
        "UNMIXED_DATA_DIR": str(tmp_path_factory.mktemp("fleet-data")),
        "UNMIXED_RATE_LIMIT_OTHER": "100000/minute",
        "UNMIXED_RATE_LIMIT_LIST": "100000/minute",
    }
    postgres_server.drop_database(database_url)


@pytest.fixture(scope="module")
async def fleet(
    fleet_environment: dict[str, str],
    janus: JanusServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Fleet]:
    logs = tmp_path_factory.mktemp("fleet-logs")
    port = free_port()
    api = ServiceProcess("api", ["serve", "--port", str(port)], fleet_environment, logs)
    workers = {
        name: ServiceProcess(
            name,
            ["worker", "--slots", str(slots), "--name", name, "--metrics-port", str(free_port())],
            fleet_environment,
            logs,
        )
        for name, slots in SLOTS.items()
    }
    scenario = Scenario.model_validate(
        {
            "participants": [{"name": name, "tone_hz": hz} for name, hz in TONES.items()],
            "duration": 600,
        }
    )
    try:
        for process in (api, *workers.values()):
            process.start()
        await api.wait_healthy(f"http://127.0.0.1:{port}/healthz")
        async with AudioReceiver() as receiver, TestbedMeeting(janus.url, scenario) as meeting:
            playing = asyncio.create_task(meeting.play())
            try:
                yield Fleet(api, f"http://127.0.0.1:{port}", workers, receiver, meeting)
            finally:
                playing.cancel()
    finally:
        for process in (api, *workers.values()):
            process.stop()


async def create(fleet: Fleet) -> httpx.Response:
    async with httpx.AsyncClient(
        base_url=fleet.api_url, headers={"Authorization": f"Token {API_KEY}"}
    ) as http:
        return await http.post(
            "/api/v1/bot/",
            json={
                "meeting_url": fleet.meeting.meeting_url,
                "recording_config": {
                    "audio_separate_raw": {},
                    "realtime_endpoints": [audio_endpoint(fleet.receiver)],
                },
            },
        )


async def wait_for_capacity(fleet: Fleet, slots: int) -> None:
    """Until every worker has announced its slots (the API counts them from Redis)."""
    expected = f"unmixed_bot_slots {float(slots)}"
    async with httpx.AsyncClient(headers={"Authorization": f"Token {API_KEY}"}) as http:
        async with asyncio.timeout(30):
            while True:
                if expected in (await http.get(f"{fleet.api_url}/metrics")).text:
                    return
                await asyncio.sleep(0.2)


async def left_within(client: AsyncUnmixedClient, bot_id: str) -> float:
    """Ask the bot to leave; seconds from the request to its `call_ended`."""
    asked = time.time()
    await client.leave_call(bot_id)
    bot = await client.wait_for_status(bot_id, {StatusCode.DONE}, timeout=30)
    ended = next(c for c in bot.status_changes if c.code == StatusCode.CALL_ENDED)
    assert ended.sub_code == SubCode.BOT_RECEIVED_LEAVE_CALL
    return ended.created_at.timestamp() - asked


def assert_hears_everyone(fleet: Fleet, bot_id: str) -> None:
    for name, hz in TONES.items():
        participant = fleet.receiver.participant(name, bot_id=bot_id)
        audio = participant.between(participant.seconds - 1.5, participant.seconds - 0.5)
        assert abs(dominant_frequency(audio) - hz) < 3, f"{bot_id}: {name} is not at {hz} Hz"


async def test_bots_spread_by_free_slots_and_stream(fleet: Fleet) -> None:
    await wait_for_capacity(fleet, sum(SLOTS.values()))
    async with fleet.client() as client:
        for _ in range(sum(SLOTS.values())):
            answer = await create(fleet)
            assert answer.status_code == 201, answer.text
            fleet.bots.append(answer.json()["id"])
        for bot_id in fleet.bots:
            await client.wait_for_status(bot_id, {StatusCode.IN_CALL_RECORDING}, timeout=60)
    assert {name: len(fleet.on(name)) for name in SLOTS} == SLOTS
    await fleet.receiver.wait_for(
        lambda: all(
            (heard := fleet.receiver.heard(name, bot_id=bot_id)) is not None and heard.seconds > 2
            for bot_id in fleet.bots
            for name in TONES
        ),
        timeout=30,
    )
    for bot_id in fleet.bots:
        assert_hears_everyone(fleet, bot_id)


async def test_a_bot_beyond_the_free_slots_gets_507_and_nothing_starts(fleet: Fleet) -> None:
    async with fleet.client() as client:
        before = (await client.get_bot_page()).count
        answer = await create(fleet)
        assert answer.status_code == 507
        assert int(answer.headers["retry-after"]) > 0
        assert answer.json()["code"] == "no_free_bot_slot"
        assert (await client.get_bot_page()).count == before, "nothing was stored"
    assert sum(len(fleet.on(name)) for name in SLOTS) == sum(SLOTS.values())


async def test_leave_call_reaches_a_bot_on_either_worker(fleet: Fleet) -> None:
    async with fleet.client() as client:
        for worker in SLOTS:
            bot_id = sorted(fleet.on(worker))[0]
            seconds = await left_within(client, bot_id)
            assert seconds < LEAVE_WITHIN_SECONDS, f"leave took {seconds:.2f} s on {worker}"
            fleet.bots.remove(bot_id)


async def test_a_dead_workers_bots_are_lost_and_the_others_go_on(fleet: Fleet) -> None:
    (doomed,) = fleet.on("worker-a")
    survivors = fleet.on("worker-b")
    heard_before = {
        bot_id: fleet.receiver.participant("Alice", bot_id=bot_id).seconds for bot_id in survivors
    }
    killed_at = time.time()
    fleet.workers["worker-a"].kill_machine()
    async with fleet.client() as client:
        lost = await client.wait_for_status(doomed, {StatusCode.FATAL}, timeout=45)
        fatal = [c for c in lost.status_changes if c.code == StatusCode.FATAL]
        assert [c.sub_code for c in fatal] == [SubCode.BOT_PROCESS_LOST], "ended once, as lost"
        assert fatal[0].created_at.timestamp() - killed_at < LOST_WITHIN_SECONDS
        for bot_id in survivors:
            bot = await client.get_bot(bot_id)
            assert bot.status_changes[-1].code == StatusCode.IN_CALL_RECORDING
    fleet.bots.remove(doomed)
    for bot_id in survivors:
        assert fleet.receiver.participant("Alice", bot_id=bot_id).seconds > heard_before[bot_id]
        assert_hears_everyone(fleet, bot_id)


async def test_an_api_killed_mid_call_loses_no_sample_and_its_successor_commands(
    fleet: Fleet,
) -> None:
    survivors = sorted(fleet.on("worker-b"))
    assert survivors
    fleet.api.kill_machine()
    outage_started = fleet.receiver.participant("Bob", bot_id=survivors[0]).seconds
    fleet.api.start()
    await fleet.api.wait_healthy(f"{fleet.api_url}/healthz")
    async with fleet.client() as client:
        await fleet.receiver.wait_for(
            lambda: (
                fleet.receiver.participant("Bob", bot_id=survivors[0]).seconds > outage_started + 2
            ),
            timeout=10,
        )
        for bot_id in survivors:
            bot: Bot = await client.get_bot(bot_id)
            assert bot.status_changes[-1].code == StatusCode.IN_CALL_RECORDING
            for name in TONES:
                participant = fleet.receiver.participant(name, bot_id=bot_id)
                (connection,) = participant.connections
                assert connection.closed_at is None
                assert_continuous(connection)
        for bot_id in survivors:
            seconds = await left_within(client, bot_id)
            assert seconds < LEAVE_WITHIN_SECONDS
            fleet.bots.remove(bot_id)
    assert fleet.bots == []

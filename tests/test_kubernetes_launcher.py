"""The kubernetes launcher: the Job it describes is one Kubernetes 1.37 accepts (its
strict schema), runs the bot once, as no one in particular, with no secret in it;
and the launcher sends it to an API server (a real HTTP server here, standing in
for one) as the client library really does, taking a Job that exists already as
launched and anything else refused as a failed launch."""

import json
import re
import socket
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import kubernetes_validate
import pytest
from kubernetes.client import Configuration
from kubernetes.utils import parse_quantity
from pydantic import SecretStr

from unmixed.bots.launchers import BotJob, LaunchFailed
from unmixed.bots.launchers.kubernetes import KubernetesLauncher, job_manifest
from unmixed.settings import Settings
from unmixed.wire.meeting_url import Platform

KUBERNETES_VERSION = "1.37"
BOT_ID = "3f2b8c1e-9d4a-4e7b-8a61-0c5d2e7f9a13"
NAMESPACE = "unmixed"
TOKEN = "service-account-token-never-shown"
SECRETS = {
    "database_url": "postgresql+psycopg://unmixed:db-password-never-shown@postgres/unmixed",
    "api_key": "api-key-never-shown",
    "zoom_client_secret": "zoom-secret-never-shown",
    "redis_url": "redis://:redis-password-never-shown@redis:6379/0",
}
DNS_1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
MEASURED_MEMORY = {"native": 100 * 2**20, "browser": 550 * 2**20}
"""README, "Measured": a native bot's RSS, a browser bot's PSS (its whole tree)."""


def settings(namespace: str = NAMESPACE) -> Settings:
    return Settings(
        kubernetes_namespace=namespace,
        kubernetes_image="registry.example.com/unmixed:0.1.0",
        kubernetes_bot_secret="unmixed-bot",
        zoom_client_id="zoom-client-id",
        **{name: SecretStr(value) for name, value in SECRETS.items()},
    )


def container(manifest: dict[str, Any]) -> dict[str, Any]:
    [only] = manifest["spec"]["template"]["spec"]["containers"]
    return only


@pytest.mark.parametrize("platform", list(Platform))
def test_every_platforms_job_is_valid_for_kubernetes_1_37(platform: Platform) -> None:
    manifest = job_manifest(BotJob(BOT_ID, platform), settings())
    kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)


def test_the_job_runs_the_bot_once_under_a_name_kubernetes_takes() -> None:
    manifest = job_manifest(BotJob(BOT_ID, Platform.ZOOM), settings())
    name = manifest["metadata"]["name"]
    assert name == f"unmixed-bot-{BOT_ID}"
    assert DNS_1123_LABEL.match(name)
    assert len(name) <= 63
    assert manifest["metadata"]["namespace"] == NAMESPACE
    assert manifest["metadata"]["labels"] == {
        "app.kubernetes.io/name": "unmixed",
        "app.kubernetes.io/component": "bot",
        "unmixed.dev/bot-id": BOT_ID,
    }
    assert manifest["spec"]["template"]["metadata"]["labels"] == manifest["metadata"]["labels"]
    assert container(manifest)["args"] == ["python", "-m", "unmixed.bots.runner", BOT_ID]
    assert container(manifest)["image"] == "registry.example.com/unmixed:0.1.0"
    assert manifest["spec"]["backoffLimit"] == 0
    assert manifest["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    assert manifest["spec"]["ttlSecondsAfterFinished"] > 0
    # SIGTERM is leave_call; the bot then drains its receivers for up to 10 s.
    assert manifest["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] >= 20


@pytest.mark.parametrize("platform", list(Platform))
def test_the_job_names_the_secret_and_holds_none(platform: Platform) -> None:
    manifest = job_manifest(BotJob(BOT_ID, platform), settings())
    text = json.dumps(manifest)
    for value in SECRETS.values():
        assert value not in text
    assert "never-shown" not in text
    assert container(manifest)["envFrom"] == [{"secretRef": {"name": "unmixed-bot"}}]
    assert container(manifest)["env"] == [{"name": "UNMIXED_LAUNCHER", "value": "kubernetes"}]


@pytest.mark.parametrize("platform", list(Platform))
def test_the_bot_runs_unprivileged(platform: Platform) -> None:
    manifest = job_manifest(BotJob(BOT_ID, platform), settings())
    pod = manifest["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    assert container(manifest)["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
    }


def test_browser_bots_ask_for_more_and_each_for_more_than_it_was_measured_at() -> None:
    def resources(platform: Platform) -> dict[str, dict[str, Decimal]]:
        asked = container(job_manifest(BotJob(BOT_ID, platform), settings()))["resources"]
        return {
            kind: {name: parse_quantity(value) for name, value in amounts.items()}
            for kind, amounts in asked.items()
        }

    by_kind = {"native": resources(Platform.ZOOM), "browser": resources(Platform.GOOGLE_MEET)}
    for platform in Platform:
        kind = "browser" if platform.needs_browser else "native"
        assert resources(platform) == by_kind[kind], platform
    for kind, asked in by_kind.items():
        assert asked["requests"]["memory"] > MEASURED_MEMORY[kind]
        for name, amount in asked["requests"].items():
            assert amount <= asked["limits"][name]
    for kind in ("requests", "limits"):
        for name in ("cpu", "memory"):
            assert by_kind["browser"][kind][name] > by_kind["native"][kind][name]


def test_importing_the_launcher_does_not_import_the_kubernetes_client() -> None:
    """It is an optional extra: a server that launches bots otherwise never needs it."""
    probe = "import sys, unmixed.bots.launchers.kubernetes; print('kubernetes' in sys.modules)"
    output = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert output.strip() == "False"


@dataclass
class FakeApiServer:
    """Answers Job creation as an API server does for a service account that may
    create Jobs in `namespace` only: 201 with the Job, 409 for a name it has, 403
    elsewhere. Keeps every request it received."""

    namespace: str
    url: str = ""
    received: list[tuple[str, str | None, dict[str, Any]]] = field(default_factory=list)
    jobs: set[str] = field(default_factory=set)

    def answer(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        namespace = path.split("/")[5]
        name = body["metadata"]["name"]
        if namespace != self.namespace:
            return 403, status(
                403,
                "Forbidden",
                f'jobs.batch is forbidden: User "system:serviceaccount:{self.namespace}:'
                f'unmixed-api" cannot create resource "jobs" in API group "batch" in the '
                f'namespace "{namespace}"',
            )
        if name in self.jobs:
            return 409, status(409, "AlreadyExists", f'jobs.batch "{name}" already exists')
        self.jobs.add(name)
        return 201, body


def status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }


@pytest.fixture
def api_server() -> Iterator[FakeApiServer]:
    fake = FakeApiServer(NAMESPACE)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            fake.received.append((self.path, self.headers["Authorization"], body))
            if re.fullmatch(r"/apis/batch/v1/namespaces/[^/]+/jobs", self.path.split("?")[0]):
                code, answer = fake.answer(self.path, body)
            else:
                code, answer = 404, status(404, "NotFound", "the server could not find it")
            payload = json.dumps(answer).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the test asserts what was received."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def configuration(url: str) -> Configuration:
    return Configuration(
        host=url, api_key={"BearerToken": TOKEN}, api_key_prefix={"BearerToken": "Bearer"}
    )


@pytest.fixture
async def launcher(api_server: FakeApiServer) -> AsyncIterator[KubernetesLauncher]:
    launcher = KubernetesLauncher(settings(), configuration=configuration(api_server.url))
    try:
        yield launcher
    finally:
        await launcher.close()


async def test_launch_sends_the_job_it_describes(
    launcher: KubernetesLauncher, api_server: FakeApiServer
) -> None:
    job = BotJob(BOT_ID, Platform.MICROSOFT_TEAMS)
    await launcher.launch(job)
    [(path, authorization, body)] = api_server.received
    assert path == f"/apis/batch/v1/namespaces/{NAMESPACE}/jobs"
    assert authorization == f"Bearer {TOKEN}"
    assert body == job_manifest(job, settings())
    kubernetes_validate.validate(body, KUBERNETES_VERSION, strict=True)
    assert api_server.jobs == {f"unmixed-bot-{BOT_ID}"}


async def test_a_job_that_exists_already_is_launched(
    launcher: KubernetesLauncher, api_server: FakeApiServer
) -> None:
    """A launch delivered twice: the second finds the first's Job (409)."""
    job = BotJob(BOT_ID, Platform.ZOOM)
    await launcher.launch(job)
    await launcher.launch(job)
    assert len(api_server.received) == 2
    assert api_server.jobs == {f"unmixed-bot-{BOT_ID}"}


async def test_a_refused_job_is_a_failed_launch_that_says_why(
    api_server: FakeApiServer,
) -> None:
    launcher = KubernetesLauncher(
        settings(namespace="elsewhere"), configuration=configuration(api_server.url)
    )
    try:
        with pytest.raises(LaunchFailed) as failed:
            await launcher.launch(BotJob(BOT_ID, Platform.ZOOM))
    finally:
        await launcher.close()
    message = str(failed.value)
    assert message.startswith(f"Kubernetes refused Job unmixed-bot-{BOT_ID}: 403 Forbidden: ")
    assert 'cannot create resource "jobs" in API group "batch"' in message
    assert TOKEN not in message
    assert not api_server.jobs


async def test_an_api_server_that_does_not_answer_is_a_failed_launch() -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    launcher = KubernetesLauncher(
        settings(), configuration=configuration(f"http://127.0.0.1:{port}")
    )
    try:
        with pytest.raises(LaunchFailed, match="the Kubernetes API server did not answer"):
            await launcher.launch(BotJob(BOT_ID, Platform.ZOOM))
    finally:
        await launcher.close()


async def test_the_cluster_knows_the_capacity(launcher: KubernetesLauncher) -> None:
    assert await launcher.capacity() is None


def test_a_bot_that_transcribes_asks_for_room_for_its_model() -> None:
    def resources(transcribes: bool) -> dict[str, dict[str, Decimal]]:
        job = BotJob(BOT_ID, Platform.ZOOM, transcribes=transcribes)
        asked = container(job_manifest(job, settings()))["resources"]
        return {
            kind: {name: parse_quantity(value) for name, value in amounts.items()}
            for kind, amounts in asked.items()
        }

    plain, transcribing = resources(False), resources(True)
    for kind in ("requests", "limits"):
        assert transcribing[kind]["memory"] - plain[kind]["memory"] >= 384 * 2**20
        assert transcribing[kind]["cpu"] > plain[kind]["cpu"]
    assert transcribing["requests"]["memory"] > 384 * 2**20, "a transcribing bot measured 384 MiB"

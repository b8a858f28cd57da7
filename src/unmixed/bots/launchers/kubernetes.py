"""The `kubernetes` launcher: each bot is a Job of its own, which the cluster places.

The Job runs `python -m unmixed.bots.runner BOT_ID` in the API's image; its
settings come from a Secret (`UNMIXED_KUBERNETES_BOT_SECRET`), never from the Job
itself, which anyone allowed to list Jobs can read. The cluster places what it
can and keeps the rest pending, so this launcher knows no capacity; a Job still
pending when the reaper's `START_WITHIN` (10 minutes) has passed has its bot
ended as lost (its Pod then finds the bot over and exits).

The `kubernetes` client is an optional extra (`unmixed[kubernetes]`): it is
imported when a launcher is made, never by importing this module.
"""

import asyncio
import json
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import structlog

from unmixed.bots.launchers.base import BotJob, LaunchFailed
from unmixed.settings import Settings

if TYPE_CHECKING:
    from kubernetes.client import Configuration

log = structlog.get_logger(__name__)

JOB_NAME_PREFIX = "unmixed-bot-"
"""With a bot id (a UUID, 36 lower-case characters) the name is 48 characters: a
DNS-1123 label, within the 63 a Job's name may have (it becomes a Pod label)."""

FINISHED_JOB_SECONDS = 3600
"""A finished Job, and its Pod's log, stay this long for `kubectl logs`, then go."""

LEAVE_GRACE_SECONDS = 30
"""Between SIGTERM and SIGKILL: the bot takes SIGTERM as `leave_call`, leaves the
meeting and drains its receivers for up to 10 s."""

REQUEST_SECONDS = 30.0
"""How long the API server may take to answer the Job's creation."""


@dataclass(frozen=True)
class PodResources:
    cpu_request: int
    """Millicores."""
    memory_request: int
    """MiB."""
    cpu_limit: int
    memory_limit: int

    def __add__(self, other: "PodResources") -> "PodResources":
        return PodResources(
            self.cpu_request + other.cpu_request,
            self.memory_request + other.memory_request,
            self.cpu_limit + other.cpu_limit,
            self.memory_limit + other.memory_limit,
        )

    def manifest(self) -> dict[str, dict[str, str]]:
        return {
            "requests": {"cpu": f"{self.cpu_request}m", "memory": f"{self.memory_request}Mi"},
            "limits": {"cpu": f"{self.cpu_limit}m", "memory": f"{self.memory_limit}Mi"},
        }


NATIVE_RESOURCES = PodResources(
    cpu_request=100, memory_request=256, cpu_limit=1000, memory_limit=512
)
"""A native bot (testbed, Zoom) was measured at 100 MiB RSS and 4-6 % of a core with
three speakers (README, "Measured"), forked from a warm process; alone in a Pod it
shares nothing, and the Zoom SDK's own memory was never measured: hence about
2.5 times that as the request and 5 times as the limit. The CPU request is about
six speakers' worth (1.2-1.7 % of a core each); the limit leaves a core for the
start (imports, the SDK's sign-in)."""

BROWSER_RESOURCES = PodResources(
    cpu_request=250, memory_request=1024, cpu_limit=2000, memory_limit=2048
)
"""A browser bot (Teams, Meet, the testbed's web page) was measured at about 550 MiB
PSS (Chromium, Playwright's driver and the bot; a Pod's memory counts each page
once, as PSS summed over its processes does) and 18-21 % of a core with three
speakers, on the testbed's page, which decodes no video: a real meeting site
costs more. Hence about twice that as the request, and a limit that lets
Chromium's start use two cores."""


TRANSCRIPTION_RESOURCES = PodResources(
    cpu_request=250, memory_request=384, cpu_limit=1000, memory_limit=768
)
"""Added for a bot that transcribes: with Whisper tiny.en a bot's RSS went from 107 to
384 MiB (README, "Measured"; base adds about 110 MiB more), and each speaking
participant costs about a seventh of a core while they talk, on one thread; the limit
lets that thread have a core of its own beside the audio."""


def job_name(bot_id: str) -> str:
    return f"{JOB_NAME_PREFIX}{bot_id}"


def job_manifest(job: BotJob, settings: Settings) -> dict[str, Any]:
    """The batch/v1 Job that runs this bot, as the API server takes it.

    The bot is never run twice (`backoffLimit: 0`, `restartPolicy: Never`): its
    claim in the store is atomic, but a second process would still join the
    meeting once more before finding the claim taken. It runs as the image's
    non-root user with no capability (the browser bot runs Chromium without its
    sandbox, so it needs none), without a service account token (a meeting
    site's code runs in it) and without the namespace's Service variables.
    """
    labels = {
        "app.kubernetes.io/name": "unmixed",
        "app.kubernetes.io/component": "bot",
        "unmixed.dev/bot-id": job.bot_id,
    }
    resources = BROWSER_RESOURCES if job.platform.needs_browser else NATIVE_RESOURCES
    if job.transcribes:
        resources += TRANSCRIPTION_RESOURCES
    container = {
        "name": "bot",
        "image": settings.kubernetes_image,
        "args": ["python", "-m", "unmixed.bots.runner", job.bot_id],
        "envFrom": [{"secretRef": {"name": settings.kubernetes_bot_secret}}],
        "env": [{"name": "UNMIXED_LAUNCHER", "value": "kubernetes"}],
        "resources": resources.manifest(),
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
        },
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": job_name(job.bot_id),
            "namespace": settings.kubernetes_namespace,
            "labels": labels,
        },
        "spec": {
            "backoffLimit": 0,
            "ttlSecondsAfterFinished": FINISHED_JOB_SECONDS,
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "restartPolicy": "Never",
                    "terminationGracePeriodSeconds": LEAVE_GRACE_SECONDS,
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [container],
                },
            },
        },
    }


class KubernetesLauncher:
    """Creates a Job per bot through the API server; its bots outlive it."""

    def __init__(self, settings: Settings, *, configuration: "Configuration | None" = None) -> None:
        """`configuration` names the API server and the credentials; by default the
        Pod's service account when running in a Pod, else the kubeconfig (as kubectl)."""
        from kubernetes import client, config

        if configuration is None:
            configuration = client.Configuration()
            if "KUBERNETES_SERVICE_HOST" in os.environ:  # set in every container of a Pod
                config.load_incluster_config(client_configuration=configuration)
            else:
                config.load_kube_config(client_configuration=configuration)
        self._settings = settings
        self._client = client.ApiClient(configuration)
        self._jobs = client.BatchV1Api(self._client)

    async def launch(self, job: BotJob) -> None:
        """Create the bot's Job; one that exists already (a launch delivered twice) is
        this bot's, and is left as it is."""
        from kubernetes.client import V1Job
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        name = job_name(job.bot_id)
        try:
            await asyncio.to_thread(
                self._jobs.create_namespaced_job,
                self._settings.kubernetes_namespace,
                V1Job.model_validate(job_manifest(job, self._settings)),
                _request_timeout=REQUEST_SECONDS,
            )
        except ApiException as error:
            if error.status == 409:
                log.info("the bot's Job exists already", bot=job.bot_id, job=name)
                return
            raise LaunchFailed(
                f"Kubernetes refused Job {name}: {error.status} {error.reason}"
                f"{_status_message(error.body)}"
            ) from error
        except HTTPError as error:
            raise LaunchFailed(f"the Kubernetes API server did not answer: {error}") from error
        log.info("bot Job created", bot=job.bot_id, job=name)

    async def capacity(self) -> int | None:
        return None

    async def close(self) -> None:
        self._client.close()


def _status_message(body: str | None) -> str:
    """The reason an API server gives in its Status (`jobs.batch is forbidden: ...`),
    if the body is one. It can quote the Job, which holds no secret."""
    try:
        message = json.loads(body or "").get("message")
    except (ValueError, AttributeError):
        return ""
    return f": {message}" if isinstance(message, str) and message else ""

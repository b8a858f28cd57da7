"""What deploy/ ships says what Kubernetes 1.37 and unmixed understand: every
Kubernetes document passes the 1.37 strict schema (no unknown field, no wrong
type), every Pod meets the restricted Pod Security Standard its namespace
enforces and keeps the image's init process, the NetworkPolicies let in what
they should and nothing else, every `UNMIXED_*` name is a setting, every command
and flag exists, the probed path is served, every Redis URL carries a password,
and the Compose files parse and run the services they should, as they should,
with the variables of deploy/.env substituted as Compose does. Nothing here
pulls, builds or starts a container (no registry is reachable where the tests
run), so Compose's and Docker's own checks never run."""

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import kubernetes_validate
import pytest
import typer
import yaml
from redis import Redis
from sqlalchemy import make_url
from typer.core import TyperGroup

from unmixed.api import create_app
from unmixed.bots.launchers import BotJob
from unmixed.bots.launchers.kubernetes import job_manifest
from unmixed.cli import app
from unmixed.settings import Settings
from unmixed.wire.meeting_url import Platform

KUBERNETES_VERSION = "1.37"
DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
MANIFESTS = sorted((DEPLOY / "kubernetes").glob("*.yaml"))
COMPOSE_FILES = ("compose.yaml", "compose.worker.yaml")
SETTINGS = {f"UNMIXED_{name.upper()}" for name in Settings.model_fields}
WORKLOADS = ("Deployment", "Job")
ENTRYPOINT = ["/usr/bin/tini", "--"]
BOT_ID = "3f2b8c1e-9d4a-4e7b-8a61-0c5d2e7f9a13"
DOT_ENV = {
    "UNMIXED_API_KEY": "0123456789abcdef" * 3,
    "POSTGRES_PASSWORD": "89abcdef01234567" * 3,
    "REDIS_PASSWORD": "fedcba9876543210" * 3,
}
"""deploy/.env on the first machine, as compose.yaml tells to write it."""
WORKER_DOT_ENV = {
    "UNMIXED_DATABASE_URL": (
        f"postgresql+psycopg://unmixed:{DOT_ENV['POSTGRES_PASSWORD']}@10.0.0.5:5432/unmixed"
    ),
    "UNMIXED_REDIS_URL": f"redis://:{DOT_ENV['REDIS_PASSWORD']}@10.0.0.5:6379/0",
}
"""deploy/.env on another machine, as compose.worker.yaml tells to write it."""


def documents() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in MANIFESTS:
        for document in yaml.safe_load_all(path.read_text()):
            if document is not None:
                found.append(
                    (f"{path.name}:{document['kind']}/{document['metadata']['name']}", document)
                )
    return found


DOCUMENTS = documents()


def compose(name: str = "compose.yaml") -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / name).read_text())
    return loaded


class RequiredVariable(Exception):
    """Compose refuses to start: a `${NAME:?message}` is unset or empty."""


VARIABLE = re.compile(r"\$(?:\$|\{(?P<braced>[^}]*)\}|(?P<named>[A-Za-z_][A-Za-z0-9_]*))")
BRACED = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<operator>:-|-|:\?|\?)(?P<word>.*))?")


def interpolate(value: Any, environment: dict[str, str]) -> Any:
    """`value` (a loaded Compose file, or part of one) with its variables replaced as
    Compose replaces them: `$$`, `$NAME`, `${NAME}`, `${NAME:-default}`,
    `${NAME-default}`, `${NAME:?message}` and `${NAME?message}` (the forms with a
    colon treat an empty value as unset). Any other form fails the test."""
    if isinstance(value, dict):
        return {key: interpolate(item, environment) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, environment) for item in value]
    if not isinstance(value, str):
        return value

    def replace(match: re.Match[str]) -> str:
        if match[0] == "$$":
            return "$"
        if match["named"]:
            return environment.get(match["named"], "")
        braced = BRACED.fullmatch(match["braced"])
        assert braced, f"a form of interpolation not checked here: {match[0]}"
        present = environment.get(braced["name"])
        operator = braced["operator"]
        if operator is None:
            return present or ""
        missing = not present if operator.startswith(":") else present is None
        if operator.endswith("?"):
            if missing:
                raise RequiredVariable(f"{braced['name']}: {braced['word']}")
            return present or ""
        return braced["word"] if missing else (present or "")

    return VARIABLE.sub(replace, value)


def find(kind: str, name: str) -> dict[str, Any]:
    [found] = [
        document
        for _, document in DOCUMENTS
        if document["kind"] == kind and document["metadata"]["name"] == name
    ]
    return found


def pod_specs() -> list[tuple[str, dict[str, Any]]]:
    return [
        (label, document["spec"]["template"]["spec"])
        for label, document in DOCUMENTS
        if document["kind"] in WORKLOADS
    ]


def test_every_file_is_found() -> None:
    names = {path.name for path in MANIFESTS}
    assert names == {
        "namespace.yaml",
        "api.yaml",
        "worker.yaml",
        "bot-job-rbac.yaml",
        "secret.example.yaml",
        "network-policy.yaml",
    }
    assert {"Dockerfile", *COMPOSE_FILES} <= {path.name for path in DEPLOY.iterdir()}


@pytest.mark.parametrize(("label", "document"), DOCUMENTS, ids=[label for label, _ in DOCUMENTS])
def test_every_document_is_valid_for_kubernetes_1_37(label: str, document: dict[str, Any]) -> None:
    kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize(("label", "document"), DOCUMENTS, ids=[label for label, _ in DOCUMENTS])
def test_everything_lives_in_the_namespace(label: str, document: dict[str, Any]) -> None:
    expected = None if document["kind"] == "Namespace" else "unmixed"
    assert document["metadata"].get("namespace") == expected
    assert document["metadata"]["labels"]["app.kubernetes.io/name"] == "unmixed"


def test_the_namespace_enforces_the_restricted_pod_security_standard() -> None:
    labels = find("Namespace", "unmixed")["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


@pytest.mark.parametrize(("label", "pod"), pod_specs(), ids=[label for label, _ in pod_specs()])
def test_every_pod_meets_the_restricted_standard(label: str, pod: dict[str, Any]) -> None:
    """The fields the restricted standard requires of a Pod that sets nothing else;
    the API server would refuse the Pod in the namespace otherwise."""
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert "volumes" not in pod
    assert "hostNetwork" not in pod
    for container in pod["containers"]:
        assert container["securityContext"] == {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
        }


def test_every_unmixed_variable_is_a_setting() -> None:
    """A misspelt variable is silently ignored by the settings (`extra="ignore"`)."""
    named = set()
    for _, document in DOCUMENTS:
        if document["kind"] == "Secret":
            named |= set(document["stringData"])
    for _, pod in pod_specs():
        for container in pod["containers"]:
            named |= {variable["name"] for variable in container.get("env", [])}
    for name in COMPOSE_FILES:
        for service in compose(name)["services"].values():
            named |= set(service.get("environment", {}))
    unmixed = {name for name in named if name.startswith("UNMIXED_")}
    assert unmixed
    assert unmixed <= SETTINGS


def test_the_example_secrets_hold_placeholders_and_the_bots_no_api_key() -> None:
    for name in ("unmixed", "unmixed-bot"):
        for key, value in find("Secret", name)["stringData"].items():
            assert "CHANGE-ME" in value or value in ("true", "false"), key
    assert "UNMIXED_API_KEY" not in find("Secret", "unmixed-bot")["stringData"]


def test_the_api_launches_bot_jobs_it_may_create() -> None:
    api = find("Deployment", "unmixed-api")
    [container] = api["spec"]["template"]["spec"]["containers"]
    environment = {variable["name"]: variable for variable in container["env"]}
    assert environment["UNMIXED_LAUNCHER"]["value"] == "kubernetes"
    assert environment["UNMIXED_KUBERNETES_IMAGE"]["value"] == container["image"]
    bot_secret = environment["UNMIXED_KUBERNETES_BOT_SECRET"]["value"]
    assert find("Secret", bot_secret)
    assert container["envFrom"] == [{"secretRef": {"name": "unmixed"}}]

    account = api["spec"]["template"]["spec"]["serviceAccountName"]
    assert find("ServiceAccount", account)
    binding = find("RoleBinding", "unmixed-api-creates-bot-jobs")
    assert {"kind": "ServiceAccount", "name": account, "namespace": "unmixed"} in binding[
        "subjects"
    ]
    role = find(binding["roleRef"]["kind"], binding["roleRef"]["name"])
    assert role["rules"] == [{"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["create"]}]


def test_the_api_is_probed_and_served() -> None:
    api = find("Deployment", "unmixed-api")
    assert api["spec"]["replicas"] == 2
    [container] = api["spec"]["template"]["spec"]["containers"]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "http"}
    service = find("Service", "unmixed-api")
    assert service["spec"]["selector"] == api["spec"]["selector"]["matchLabels"]
    assert service["spec"]["ports"][0]["targetPort"] == container["ports"][0]["name"]


def test_the_api_serves_the_path_it_is_probed_on(tmp_path: Path) -> None:
    assert create_app(Settings(data_dir=tmp_path)).url_path_for("healthz") == "/healthz"


def test_workers_take_bots_with_the_bots_settings_and_no_cluster_token() -> None:
    worker = find("Deployment", "unmixed-worker")
    pod = worker["spec"]["template"]["spec"]
    [container] = pod["containers"]
    # The kubelet probes the Pod's address: the worker's default, 127.0.0.1, is not it.
    assert container["args"] == [
        "unmixed",
        "worker",
        "--slots",
        "10",
        "--metrics-host",
        "0.0.0.0",
    ]
    assert container["envFrom"] == [{"secretRef": {"name": "unmixed-bot"}}]
    assert pod["automountServiceAccountToken"] is False
    assert container["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert container["ports"] == [{"name": "metrics", "containerPort": 9187}]


def test_compose_runs_the_api_and_two_workers_on_postgres_and_redis() -> None:
    services = interpolate(compose(), DOT_ENV)["services"]
    assert set(services) == {"postgres", "redis", "api", "worker"}
    assert services["postgres"]["image"] == "postgres:15"
    assert services["redis"]["image"] == "redis:7"
    for name, service in services.items():
        assert service["restart"] == "unless-stopped", name
        assert service["healthcheck"]["test"], name
        # The image's tini is the init: Docker's own would only sit above it.
        assert "init" not in service, name
    api, worker = services["api"], services["worker"]
    assert api["command"][:4] == ["unmixed", "serve", "--host", "0.0.0.0"]
    assert "/healthz" in api["healthcheck"]["test"][-1]
    assert worker["command"] == ["unmixed", "worker", "--slots", "10"]
    assert worker["deploy"]["replicas"] == 2
    assert "9187/healthz" in worker["healthcheck"]["test"][-1]
    for service in (api, worker):
        environment = service["environment"]
        assert environment["UNMIXED_LAUNCHER"] == "celery"
        database = make_url(environment["UNMIXED_DATABASE_URL"])
        assert database.drivername == "postgresql+psycopg"
        assert (database.host, database.password) == ("postgres", DOT_ENV["POSTGRES_PASSWORD"])
        # What the Redis client makes of the URL: Redis's host, with its password.
        redis = Redis.from_url(environment["UNMIXED_REDIS_URL"]).connection_pool
        assert redis.connection_kwargs["host"] == "redis"
        assert redis.connection_kwargs["password"] == DOT_ENV["REDIS_PASSWORD"]
    # The key is the user's, from deploy/.env, and only the API has it.
    assert api["environment"]["UNMIXED_API_KEY"] == DOT_ENV["UNMIXED_API_KEY"]
    assert "UNMIXED_API_KEY" not in worker["environment"]


@pytest.mark.parametrize("empty", [False, True], ids=["unset", "empty"])
@pytest.mark.parametrize("variable", sorted(DOT_ENV))
def test_compose_refuses_to_start_without_each_secret(variable: str, empty: bool) -> None:
    environment = {name: value for name, value in DOT_ENV.items() if name != variable}
    if empty:
        environment[variable] = ""
    with pytest.raises(RequiredVariable, match=f"^{variable}: set {variable} in deploy/.env$"):
        interpolate(compose(), environment)


def test_redis_requires_the_password_the_urls_carry() -> None:
    redis = interpolate(compose(), DOT_ENV)["services"]["redis"]
    assert redis["command"] == [
        "redis-server",
        "--appendonly",
        "yes",
        "--requirepass",
        DOT_ENV["REDIS_PASSWORD"],
    ]
    # redis-cli reads the password from REDISCLI_AUTH; PONG, not NOAUTH, is healthy.
    assert redis["environment"] == {"REDISCLI_AUTH": DOT_ENV["REDIS_PASSWORD"]}
    assert redis["healthcheck"]["test"] == ["CMD-SHELL", "redis-cli ping | grep -qx PONG"]


def test_postgres_takes_a_connection_or_two_per_bot() -> None:
    postgres = compose()["services"]["postgres"]
    assert postgres["command"] == ["postgres", "-c", "max_connections=500"]


@pytest.mark.parametrize(
    ("address", "published"), [(None, "127.0.0.1"), ("", "127.0.0.1"), ("10.0.0.5", "10.0.0.5")]
)
def test_compose_publishes_postgres_and_redis_where_told_and_the_api_on_loopback(
    address: str | None, published: str
) -> None:
    environment = DOT_ENV if address is None else {**DOT_ENV, "UNMIXED_PUBLISH_ADDRESS": address}
    services = interpolate(compose(), environment)["services"]
    assert services["postgres"]["ports"] == [f"{published}:5432:5432"]
    assert services["redis"]["ports"] == [f"{published}:6379:6379"]
    assert services["api"]["ports"] == ["127.0.0.1:8000:8000"]
    assert "ports" not in services["worker"]


def test_the_worker_only_compose_file_runs_the_same_worker_on_the_first_machines_store() -> None:
    [(name, worker)] = interpolate(compose("compose.worker.yaml"), WORKER_DOT_ENV)[
        "services"
    ].items()
    assert name == "worker"
    first = interpolate(compose(), DOT_ENV)["services"]["worker"]
    assert worker["command"][:2] == ["unmixed", "worker"]
    for key in (
        "image",
        "build",
        "restart",
        "stop_grace_period",
        "cap_drop",
        "security_opt",
        "command",
        "healthcheck",
    ):
        assert worker[key] == first[key], key
    assert "init" not in worker
    # Nothing of its own to wait for, nothing published.
    assert "depends_on" not in worker
    assert "ports" not in worker
    environment = worker["environment"]
    assert set(environment) == set(first["environment"])
    assert environment["UNMIXED_LAUNCHER"] == "celery"
    assert environment["UNMIXED_DATABASE_URL"] == WORKER_DOT_ENV["UNMIXED_DATABASE_URL"]
    assert environment["UNMIXED_REDIS_URL"] == WORKER_DOT_ENV["UNMIXED_REDIS_URL"]
    assert environment["UNMIXED_EGRESS_ALLOW_PRIVATE"] == "false"
    assert "UNMIXED_API_KEY" not in environment


@pytest.mark.parametrize("variable", sorted(WORKER_DOT_ENV))
def test_the_worker_only_compose_file_refuses_to_start_without_the_first_machine(
    variable: str,
) -> None:
    environment = {name: value for name, value in WORKER_DOT_ENV.items() if name != variable}
    with pytest.raises(RequiredVariable, match=f"^{variable}: set {variable} in deploy/.env$"):
        interpolate(compose("compose.worker.yaml"), environment)


REDIS_URL_SETTING = re.compile(r"UNMIXED_REDIS_URL\s*[:=]\s*[\"']?(?P<value>[^\"'\n]*)")
REDIS_URL_WITH_PASSWORD = re.compile(
    r"rediss?://:(?P<password>\$\{[^}]+\}|[^@\s]+)@[\w.-]+:\d+/\d+"
)


def test_every_redis_url_in_deploy_carries_a_password() -> None:
    """In every file of deploy/, comments too: the `.env` lines they tell to write."""
    found = set()
    for path in sorted(DEPLOY.rglob("*")):
        if not path.is_file():
            continue
        for match in REDIS_URL_SETTING.finditer(path.read_text()):
            value = match["value"].strip()
            found.add(path.relative_to(DEPLOY).as_posix())
            if value.startswith("${UNMIXED_REDIS_URL"):
                # From deploy/.env, which Compose then requires.
                assert value.startswith("${UNMIXED_REDIS_URL:?"), (path, value)
                continue
            url = REDIS_URL_WITH_PASSWORD.fullmatch(value)
            assert url, (path, value)
            if url["password"].startswith("${"):
                assert ":?" in url["password"], (path, value)  # required, not defaulted
    assert {"compose.yaml", "compose.worker.yaml", "kubernetes/secret.example.yaml"} <= found


def test_the_example_secrets_connect_to_postgresql_over_tls() -> None:
    for name in ("unmixed", "unmixed-bot"):
        url = make_url(find("Secret", name)["stringData"]["UNMIXED_DATABASE_URL"])
        assert url.query == {"sslmode": "require"}, name
        assert url.password == "CHANGE-ME"
        assert urlsplit(find("Secret", name)["stringData"]["UNMIXED_REDIS_URL"]).password


def dockerfile_instructions() -> list[tuple[str, str]]:
    """Each instruction of deploy/Dockerfile, its continued lines joined, no comments."""
    instructions: list[tuple[str, str]] = []
    text = ""
    for line in (DEPLOY / "Dockerfile").read_text().splitlines():
        if not text and (not line.strip() or line.lstrip().startswith("#")):
            continue
        text += line.rstrip().removesuffix("\\") + " "
        if not line.rstrip().endswith("\\"):
            keyword, _, rest = text.strip().partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
            text = ""
    return instructions


def test_the_image_runs_its_command_under_tini() -> None:
    instructions = dockerfile_instructions()
    installs = [rest for keyword, rest in instructions if "apt-get install" in rest]
    assert any("tini" in rest.split() for rest in installs)
    [entrypoint] = [rest for keyword, rest in instructions if keyword == "ENTRYPOINT"]
    [command] = [rest for keyword, rest in instructions if keyword == "CMD"]
    assert json.loads(entrypoint) == ENTRYPOINT
    assert json.loads(command) == ["unmixed", "serve", "--host", "0.0.0.0", "--port", "8000"]
    assert instructions[-1][0] == "CMD"


def test_no_container_replaces_the_images_entrypoint() -> None:
    """A container's `command` would replace tini; `args` replaces only the CMD."""
    for label, pod in pod_specs():
        for container in pod["containers"]:
            assert "command" not in container, label
            assert container["args"][0] == "unmixed", label


def test_bot_jobs_keep_the_images_entrypoint() -> None:
    manifest = job_manifest(BotJob(BOT_ID, Platform.MICROSOFT_TEAMS), Settings())
    [container] = manifest["spec"]["template"]["spec"]["containers"]
    assert "command" not in container
    assert container["args"][:3] == ["python", "-m", "unmixed.bots.runner"]


def network_policies() -> list[dict[str, Any]]:
    return [document for _, document in DOCUMENTS if document["kind"] == "NetworkPolicy"]


def policies_of(labels: dict[str, str]) -> list[str]:
    """The NetworkPolicies that select a Pod with these labels."""
    return [
        policy["metadata"]["name"]
        for policy in network_policies()
        if policy["spec"]["podSelector"]["matchLabels"].items() <= labels.items()
    ]


def pod_labels() -> dict[str, dict[str, str]]:
    """The labels of each kind of Pod unmixed runs, a bot Job's as the launcher makes it."""
    labels = {
        component: find("Deployment", f"unmixed-{component}")["spec"]["template"]["metadata"][
            "labels"
        ]
        for component in ("api", "worker")
    }
    for platform in (Platform.MICROSOFT_TEAMS, Platform.ZOOM):  # a browser bot, a native one
        job = job_manifest(BotJob(BOT_ID, platform), Settings())
        labels[f"bot ({platform.value})"] = job["spec"]["template"]["metadata"]["labels"]
    return labels


@pytest.mark.parametrize("pod", sorted(pod_labels()))
def test_every_pod_is_selected_by_one_network_policy(pod: str) -> None:
    assert len(policies_of(pod_labels()[pod])) == 1


def test_network_policies_leave_egress_open() -> None:
    for policy in network_policies():
        assert policy["spec"]["policyTypes"] == ["Ingress"], policy["metadata"]["name"]
        assert "egress" not in policy["spec"]


def test_nothing_may_connect_to_a_bot() -> None:
    [name] = policies_of(pod_labels()["bot (microsoft_teams)"])
    assert "ingress" not in find("NetworkPolicy", name)["spec"]


def test_only_the_namespace_may_reach_a_worker_and_only_its_metrics_port() -> None:
    [name] = policies_of(pod_labels()["worker"])
    [rule] = find("NetworkPolicy", name)["spec"]["ingress"]
    assert rule["from"] == [{"podSelector": {}}]  # any Pod of this namespace, none elsewhere
    [container] = find("Deployment", "unmixed-worker")["spec"]["template"]["spec"]["containers"]
    assert rule["ports"] == [{"protocol": "TCP", "port": container["ports"][0]["name"]}]
    assert container["ports"] == [{"name": "metrics", "containerPort": 9187}]


def test_anyone_may_reach_the_api_on_its_port_alone() -> None:
    [name] = policies_of(pod_labels()["api"])
    [rule] = find("NetworkPolicy", name)["spec"]["ingress"]
    assert "from" not in rule
    [container] = find("Deployment", "unmixed-api")["spec"]["template"]["spec"]["containers"]
    assert rule["ports"] == [{"protocol": "TCP", "port": container["ports"][0]["name"]}]
    assert (
        find("Service", "unmixed-api")["spec"]["ports"][0]["targetPort"] == rule["ports"][0]["port"]
    )


def commands() -> list[list[str]]:
    """Each distinct `unmixed ...` command a container of deploy/ runs."""
    run = {
        tuple(words)
        for _, pod in pod_specs()
        for container in pod["containers"]
        # `command` fails test_no_container_replaces_the_images_entrypoint, not collection.
        if (words := container.get("args", container.get("command", [""])))[0] == "unmixed"
    }
    run |= {
        tuple(service["command"])
        for name in COMPOSE_FILES
        for service in compose(name)["services"].values()
        if service.get("command", [""])[0] == "unmixed"
    }
    return [list(command) for command in sorted(run)]


@pytest.mark.parametrize("command", commands(), ids=" ".join)
def test_every_unmixed_command_and_flag_exists(command: list[str]) -> None:
    group = typer.main.get_command(app)
    assert isinstance(group, TyperGroup)
    subcommand = group.commands.get(command[1])
    assert subcommand is not None, f"no command `unmixed {command[1]}`"
    flags = {flag for parameter in subcommand.params for flag in parameter.opts}
    assert {word for word in command[2:] if word.startswith("--")} <= flags

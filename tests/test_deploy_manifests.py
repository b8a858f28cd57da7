"""What deploy/ ships says what Kubernetes 1.37 and unmixed understand: every
Kubernetes document passes the 1.37 strict schema (no unknown field, no wrong
type), every Pod meets the restricted Pod Security Standard its namespace
enforces, every `UNMIXED_*` name is a setting, every command and flag exists, the
probed path is served, and the Compose file parses and runs the services it
should, as it should. Nothing here pulls, builds or starts a container (no
registry is reachable where the tests run), so Compose's own checks never run."""

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import typer
import yaml
from typer.core import TyperGroup

from unmixed.api import create_app
from unmixed.cli import app
from unmixed.settings import Settings

KUBERNETES_VERSION = "1.37"
DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
MANIFESTS = sorted((DEPLOY / "kubernetes").glob("*.yaml"))
SETTINGS = {f"UNMIXED_{name.upper()}" for name in Settings.model_fields}
WORKLOADS = ("Deployment", "Job")


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


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return loaded


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
    }


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
    for service in compose()["services"].values():
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
    assert container["command"] == [
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
    services = compose()["services"]
    assert set(services) == {"postgres", "redis", "api", "worker"}
    assert services["postgres"]["image"] == "postgres:15"
    assert services["redis"]["image"] == "redis:7"
    for name, service in services.items():
        assert service["restart"] == "unless-stopped", name
        assert service["healthcheck"]["test"], name
    api, worker = services["api"], services["worker"]
    assert api["command"][:4] == ["unmixed", "serve", "--host", "0.0.0.0"]
    assert "/healthz" in api["healthcheck"]["test"][-1]
    assert worker["command"] == ["unmixed", "worker", "--slots", "10"]
    assert worker["deploy"]["replicas"] == 2
    assert "9187/healthz" in worker["healthcheck"]["test"][-1]
    for service in (api, worker):
        environment = service["environment"]
        assert environment["UNMIXED_LAUNCHER"] == "celery"
        assert environment["UNMIXED_DATABASE_URL"].startswith("postgresql+psycopg://")
        assert environment["UNMIXED_REDIS_URL"] == "redis://redis:6379/0"
    # The key is the user's, from deploy/.env, and only the API has it.
    assert api["environment"]["UNMIXED_API_KEY"].startswith("${UNMIXED_API_KEY:?")
    assert "UNMIXED_API_KEY" not in worker["environment"]


def commands() -> list[list[str]]:
    """Each distinct `unmixed ...` command a container of deploy/ runs."""
    run = {
        tuple(container["command"])
        for _, pod in pod_specs()
        for container in pod["containers"]
        if container["command"][0] == "unmixed"
    }
    run |= {
        tuple(service["command"])
        for service in compose()["services"].values()
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

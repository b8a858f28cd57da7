"""The served OpenAPI document tells the truth: a property-based run of every route
from it (schemathesis), with and without a valid key, finds no 5xx and no response
that breaks the documented schema."""

import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, given, settings
from pydantic import SecretStr
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.conftest import UNLIMITED_RATES
from unmixed.api import create_app
from unmixed.net import free_port
from unmixed.settings import Settings

KEY = "schemathesis-key"
EXAMPLES_PER_ROUTE = 80
BEYOND_THE_SCHEMA = [positive_data_acceptance]
"""Schema-valid is not always acceptable here: a meeting link must name a real meeting
of a known platform, and an endpoint an address the egress policy allows, which no
JSON schema can say. Every other check runs: no 5xx, documented statuses, headers,
content types and bodies, and invalid data refused."""


@pytest.fixture(scope="module")
def served_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The API on a thread of its own: schemathesis calls it synchronously, which an
    API on the tests' own event loop could never answer."""
    app = create_app(
        Settings(
            data_dir=tmp_path_factory.mktemp("openapi"),
            api_key=SecretStr(KEY),
            **UNLIMITED_RATES,
        )
    )
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, proxy_headers=False)
    )
    thread = threading.Thread(target=server.run, name="api-under-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline and thread.is_alive():
        time.sleep(0.02)
    assert server.started, "the API did not start"
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=30)


@pytest.fixture(scope="module")
def api_schema(served_api: str) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{served_api}/openapi.json")


def test_the_document_says_400_not_422(served_api: str) -> None:
    document = httpx.get(f"{served_api}/openapi.json").json()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            statuses = set(operation["responses"])
            if method in ("post", "patch"):
                idempotency = operation["responses"]["422"]["content"]["application/json"]
                assert idempotency["schema"]["$ref"].endswith("/ApiError"), (method, path)
                assert {"400", "409"} <= statuses, (method, path)
            else:
                assert "422" not in statuses, (method, path)
            assert {"401", "405", "413", "429"} <= statuses, (method, path)
    create = document["paths"]["/api/v1/bot/"]["post"]["responses"]
    assert {"400", "507"} <= set(create)
    assert "Retry-After" in create["507"]["headers"]


def frames_as_http(case: schemathesis.Case) -> bool:
    """A negative case may forge `Content-Length`: such a request is not HTTP, and the
    server's protocol layer, not the API, turns it away (in plain text)."""
    return "content-length" not in {name.lower() for name in case.headers or {}}


def operations(api_schema: schemathesis.BaseSchema) -> list[schemathesis.APIOperation]:
    return [result.ok() for result in api_schema.get_all_operations()]


@pytest.mark.parametrize("authorization", [f"Token {KEY}", ""], ids=["with-key", "without-key"])
@pytest.mark.parametrize("mode", list(GenerationMode), ids=str)
def test_every_route_answers_as_documented(
    api_schema: schemathesis.BaseSchema, authorization: str, mode: GenerationMode
) -> None:
    """Valid requests (positive) and requests the document forbids (negative)."""
    routes = operations(api_schema)
    assert {operation.label for operation in routes} == {
        "POST /api/v1/bot/",
        "GET /api/v1/bot/",
        "GET /api/v1/bot/{bot_id}/",
        "PATCH /api/v1/bot/{bot_id}/",
        "DELETE /api/v1/bot/{bot_id}/",
        "POST /api/v1/bot/{bot_id}/leave_call/",
        "GET /api/v1/webhook_endpoint/",
        "POST /api/v1/webhook_endpoint/",
        "DELETE /api/v1/webhook_endpoint/{endpoint_id}/",
        "GET /api/v1/transcript/{transcript_id}/download/",
    }
    for operation in routes:

        @given(case=operation.as_strategy(mode).filter(frames_as_http))
        @settings(
            max_examples=EXAMPLES_PER_ROUTE,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def answers_as_documented(case: schemathesis.Case) -> None:
            case.call_and_validate(
                headers={"Authorization": authorization}, excluded_checks=BEYOND_THE_SCHEMA
            )

        answers_as_documented()

"""The `unmixed` command."""

import asyncio
import contextlib
import json
import signal
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from rich.console import Console

from unmixed.logs import configure_logging, register_secret
from unmixed.settings import Settings

if TYPE_CHECKING:
    from unmixed.store import ApiKeys, Owner
    from unmixed.store.webhooks import WebhookEndpoints

app = typer.Typer(
    help="unmixed: meeting bots that stream each participant's audio separately.",
    no_args_is_help=True,
    add_completion=False,
)
keys_app = typer.Typer(help="API keys.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
webhooks_app = typer.Typer(
    help="Status webhooks: endpoints and the signing secret of an account.",
    no_args_is_help=True,
)
app.add_typer(webhooks_app, name="webhooks")
console = Console(stderr=True)


def _run_until_signalled(work: Coroutine[Any, Any, None]) -> None:
    """Run `work`; SIGTERM and Ctrl-C cancel it, so its cleanup (`finally`, `async with`) runs."""

    async def main() -> None:
        task = asyncio.create_task(work)
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(main())


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
) -> None:
    """Serve the HTTP API (Recall-compatible /api/v1/bot/...)."""
    import uvicorn

    from unmixed.api import create_app

    configure_logging(process="api")
    uvicorn.run(create_app(Settings()), host=host, port=port, log_config=None, proxy_headers=False)


@app.command()
def worker(
    slots: Annotated[int, typer.Option(min=1, help="Bots this machine runs at once.")],
    name: Annotated[
        str | None, typer.Option(help="The worker's name (default: unmixed@HOST:PID).")
    ] = None,
    metrics_host: Annotated[str, typer.Option(help="Interface for /healthz, /metrics.")] = (
        "127.0.0.1"
    ),
    metrics_port: Annotated[int, typer.Option(help="Port for /healthz and /metrics.")] = 9187,
) -> None:
    """Run bots for the celery launcher (UNMIXED_REDIS_URL, UNMIXED_DATABASE_URL)."""
    from unmixed.bots.launchers.celery import StoreNotShared, Worker

    configure_logging(process="worker")
    settings = Settings()
    for password in settings.connection_passwords():
        register_secret(password)
    try:
        worker = Worker(settings, slots=slots, name=name)
    except (StoreNotShared, ValueError) as error:
        console.print(f"[red]cannot start the worker:[/] {error}")
        raise typer.Exit(2) from error
    worker.run((metrics_host, metrics_port))


def _stored_keys() -> "ApiKeys":
    from unmixed.store import ApiKeys, open_database

    return ApiKeys(open_database(Settings().resolved_database_url(), migrate=True))


@keys_app.command("create")
def create_key(label: Annotated[str, typer.Option(help="A note to remember it by.")] = "") -> None:
    """Make an API key; it is shown once and stored only as a hash."""
    typer.echo(_stored_keys().create(label))


@keys_app.command("list")
def list_keys() -> None:
    """Stored keys: id, label, when made, when revoked (never the keys themselves)."""
    from rich.table import Table

    table = Table("id", "label", "created", "revoked")
    for key in _stored_keys().all():
        revoked = f"{key.revoked_at:%Y-%m-%d %H:%M:%S}" if key.revoked_at else ""
        table.add_row(str(key.id), key.label, f"{key.created_at:%Y-%m-%d %H:%M:%S}", revoked)
    Console().print(table)


@keys_app.command("revoke")
def revoke_key(key_id: Annotated[int, typer.Argument(help="The id `keys list` shows.")]) -> None:
    """Revoke a key: requests with it get 401 from now on. Its bots are kept."""
    if not _stored_keys().revoke(key_id):
        console.print(f"no key with id {key_id}")
        raise typer.Exit(1)
    console.print(f"key {key_id} revoked")


KeyIdOption = Annotated[
    int | None,
    typer.Option(
        "--key-id",
        help="Act for the account of this stored key (`keys list`); default: the "
        "UNMIXED_API_KEY account.",
    ),
]


def _webhook_account(key_id: int | None) -> tuple["WebhookEndpoints", "Owner"]:
    """The endpoints store and the account to act for, refusing a key that is not stored."""
    from unmixed.store import ENVIRONMENT_KEY, ApiKeys, Owner, open_database
    from unmixed.store.webhooks import WebhookEndpoints

    database = open_database(Settings().resolved_database_url(), migrate=True)
    if key_id is None:
        return WebhookEndpoints(database), ENVIRONMENT_KEY
    if key_id not in {key.id for key in ApiKeys(database).all()}:
        raise typer.BadParameter(f"no stored key with id {key_id}", param_hint="--key-id")
    return WebhookEndpoints(database), Owner(key_id)


@webhooks_app.command("add")
def add_webhook(
    url: Annotated[str, typer.Argument(help="http:// or https:// URL to POST events to.")],
    key_id: KeyIdOption = None,
) -> None:
    """Send the account's bot status changes to URL. Prints the signing secret once,
    when the account's first endpoint makes it."""
    from unmixed.egress import EgressPolicy
    from unmixed.wire.bots import FieldError
    from unmixed.wire.webhooks import WebhookEndpointCreate

    try:
        WebhookEndpointCreate(url=url).check_url(
            EgressPolicy(allow_private=Settings().egress_allow_private)
        )
    except FieldError as error:
        raise typer.BadParameter(error.detail, param_hint="URL") from error
    except ValueError as error:  # pydantic's: too long, or not text a database can hold
        raise typer.BadParameter(str(error), param_hint="URL") from error
    endpoints, owner = _webhook_account(key_id)
    added = endpoints.add(owner, url)
    console.print(f"endpoint {added.endpoint.id} added")
    if added.new_secret is None:
        console.print(
            "the account's signing secret already exists; `unmixed webhooks rotate-secret` "
            "replaces it and prints the new one"
        )
    else:
        console.print("signing secret (shown once; verify each webhook with it):")
        typer.echo(added.new_secret)


@webhooks_app.command("list")
def list_webhooks(key_id: KeyIdOption = None) -> None:
    """The account's endpoints, one a line: id, when added, URL (whole, never cut short)."""
    endpoints, owner = _webhook_account(key_id)
    for endpoint in endpoints.all(owner):
        typer.echo(f"{endpoint.id}  {endpoint.created_at:%Y-%m-%d %H:%M:%S}  {endpoint.url}")


@webhooks_app.command("remove")
def remove_webhook(
    endpoint_id: Annotated[str, typer.Argument(help="The id `webhooks list` shows.")],
    key_id: KeyIdOption = None,
) -> None:
    """Stop sending to an endpoint; its undelivered events are dropped."""
    endpoints, owner = _webhook_account(key_id)
    if not endpoints.remove(owner, endpoint_id):
        console.print(f"no endpoint with id {endpoint_id} for this account")
        raise typer.Exit(1)
    console.print(f"endpoint {endpoint_id} removed")


@webhooks_app.command("rotate-secret")
def rotate_webhook_secret(key_id: KeyIdOption = None) -> None:
    """Replace the account's signing secret and print the new one; every webhook sent
    from now on, retries included, is signed with it."""
    endpoints, owner = _webhook_account(key_id)
    typer.echo(endpoints.rotate_secret(owner))


@app.command()
def testbed(
    scenario_file: Annotated[Path, typer.Argument(exists=True, dir_okay=False)],
) -> None:
    """Start a local meeting and play SCENARIO_FILE in it.

    Prints one JSON line as soon as the room is live: {"meeting_url": ..., the
    testbed:// address (null for an AudioBridge room, which bots join only through
    the web), "web_meeting_url": ..., its web page}; then exits 0 when the
    scenario is over.
    """
    from unmixed.testbed.meeting import TestbedMeeting
    from unmixed.testbed.scenario import RoomKind, Scenario
    from unmixed.testbed.server import JanusServer

    configure_logging(process="testbed")
    try:
        scenario = Scenario.load(scenario_file)
    except (ValueError, OSError) as error:
        raise typer.BadParameter(str(error), param_hint="SCENARIO_FILE") from error

    async def play() -> None:
        async with JanusServer() as janus, TestbedMeeting(janus.url, scenario) as meeting:
            native = meeting.meeting_url if scenario.room is RoomKind.VIDEOROOM else None
            urls = {"meeting_url": native, "web_meeting_url": meeting.web_meeting_url}
            sys.stdout.write(json.dumps(urls) + "\n")
            sys.stdout.flush()
            await meeting.play()

    _run_until_signalled(play())


@app.command()
def receive(
    port: Annotated[int, typer.Option(help="Port for the websocket server.")] = 9000,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    out: Annotated[Path, typer.Option(help="Where WAVs, transcripts and events.jsonl go.")] = Path(
        "received"
    ),
) -> None:
    """Receive audio and transcripts: a live table, transcripts as they come, WAVs at the end."""
    from unmixed.receiver.live import receive_live

    configure_logging(process="receiver")
    _run_until_signalled(receive_live(host, port, out, console))


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Where WAVs, transcripts and events.jsonl go.")] = Path(
        "out/demo"
    ),
) -> None:
    """A local meeting, three speakers, one bot, one receiver: the whole product in 30 s."""
    from unmixed.demo import run_demo

    configure_logging(process="demo")
    asyncio.run(run_demo(out, Console(width=None if sys.stdout.isatty() else 160)))


@app.command()
def bench(
    participants: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=30,
            help="Speaking participants: 5 by default, 3 with --bots, --pipeline or --transcribe.",
        ),
    ] = None,
    seconds: Annotated[
        float | None,
        typer.Option(
            min=5,
            help="How long they speak: 20 s by default, 40 with --transcribe (for enough "
            "sentences to take percentiles of).",
        ),
    ] = None,
    browser_speakers: Annotated[
        int, typer.Option(min=0, max=10, help="Speakers for the browser bot's run (0: skip it).")
    ] = 3,
    bots: Annotated[
        int,
        typer.Option(
            min=0,
            max=30,
            help="Send this many native bots to one meeting at once, instead of the "
            "one-bot runs (0: the one-bot runs).",
        ),
    ] = 0,
    pipeline: Annotated[
        bool,
        typer.Option(
            help="Measure media and delivery alone, instead of the one-bot runs: one bot "
            "process fed each participant's Opus at real rate, with no meeting and no WebRTC.",
        ),
    ] = False,
    transcribe: Annotated[
        bool,
        typer.Option(
            help="Measure live transcription instead of the one-bot runs: one native bot in "
            "a meeting of people saying sentences, without a transcript and then with one "
            "(CPU, memory, end of speech to final text, word error rate).",
        ),
    ] = False,
    launcher: Annotated[
        Literal["local", "celery"],
        typer.Option(
            help="With --bots: run them as the API's own processes (local), or on an "
            "`unmixed worker` with as many slots over a private Redis (celery); half are "
            "then asked to leave and the worker is killed, to time how soon the rest are lost.",
        ),
    ] = "local",
) -> None:
    """Measure latency, the bot's CPU and memory, and unmute-to-first-message time,
    for the native testbed adapter and for the browser bot, or (--bots) for many
    native bots at once, or (--pipeline) the bot's media and delivery alone; against
    the floor (decoding, resampling and wrapping the same audio, measured in the
    same run). Or (--transcribe) what live transcription adds to one bot."""
    from unmixed.bench import run_bench, run_fleet_bench, run_pipeline_bench, run_transcribe_bench

    if sum([bool(bots), pipeline, transcribe]) > 1:
        raise typer.BadParameter(
            "measure one of many bots, the pipeline or transcription", param_hint="--bots"
        )
    if seconds is None:
        seconds = 40.0 if transcribe else 20.0
    if transcribe:
        from unmixed.bench.transcribe import MIN_SECONDS

        if seconds < MIN_SECONDS:
            raise typer.BadParameter(
                f"every speaker needs time for a sentence: {MIN_SECONDS:.0f} s at least",
                param_hint="--seconds",
            )
    configure_logging(process="bench")
    if transcribe:
        asyncio.run(run_transcribe_bench(participants or 3, seconds, Console()))
    elif bots:
        asyncio.run(run_fleet_bench(bots, participants or 3, seconds, Console(), launcher=launcher))
    elif pipeline:
        asyncio.run(run_pipeline_bench(participants or 3, seconds, Console()))
    else:
        asyncio.run(
            run_bench(participants or 5, seconds, Console(), browser_speakers=browser_speakers)
        )


if __name__ == "__main__":
    app()

"""A private PostgreSQL server for a test session: Debian's own binaries, on a free
loopback port, in a temporary directory, stopped and deleted at the end. (Redis has
its own, in `unmixed.testbed.redis`, which the bench uses too.)

Private, so that tests never touch (or depend on) a server of the machine's, and run
the same on a laptop and in CI. Readiness is an event, not a guess: the server's log
says when it accepts connections, and one real connection then confirms it.
"""

import contextlib
import os
import pwd
import re
import secrets
import shutil
import signal
import stat
import subprocess
import tempfile
import threading
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

from unmixed.net import free_port

SETUP_HINT = "run scripts/setup: it installs the Debian package postgresql"
START_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 15.0
PORT_ATTEMPTS = 5
"""A free port can be taken between choosing it and the server binding it: try another."""
POSTGRES_SUPERUSER = "postgres"
POSTGRES_SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "unix_socket_directories": "",  # TCP only: Debian's default socket directory is postgres's
    "fsync": "off",  # a test cluster is thrown away: durability only costs time
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",  # every engine a test opens keeps a small pool
    "lc_messages": "C",  # the readiness line is matched in English
}
"""What speed the throwaway cluster buys with the durability it does not need."""


class MissingServer(RuntimeError):
    """A server binary is not installed: the tests that need it must fail, not skip."""


class ServerFailed(RuntimeError):
    """A server did not start; the message ends with its log."""


def postgres_bin_dir() -> Path:
    """Debian's PostgreSQL binaries (`/usr/lib/postgresql/<major>/bin`), the newest major.

    Never `pg_ctl` or `postgres` from PATH: /usr/local/bin may hold wrappers, and
    Debian's /usr/bin has only the cluster-management scripts.
    """
    found = [
        path
        for path in Path("/usr/lib/postgresql").glob("*/bin")
        if (path / "initdb").is_file() and (path / "postgres").is_file()
    ]
    if not found:
        raise MissingServer(
            f"PostgreSQL is not installed (no /usr/lib/postgresql/*/bin); {SETUP_HINT}"
        )
    return max(found, key=lambda path: _major(path.parent.name))


def _major(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version))


def _as_postgres() -> dict[str, Any]:
    """`subprocess` arguments that run a command as the `postgres` system user when we are
    root (initdb and postgres refuse to run as root), and as ourselves otherwise.

    Popen's `user=` rather than `runuser`: the process we hold is then postgres itself,
    so our SIGINT is its fast shutdown (runuser turns every signal into SIGTERM, the
    smart shutdown that waits for every client to leave)."""
    if os.geteuid() != 0:
        return {}
    try:
        account = pwd.getpwnam(POSTGRES_SUPERUSER)
    except KeyError:
        raise MissingServer(
            f"running as root and there is no postgres user; {SETUP_HINT}"
        ) from None
    return {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}


def _private_directory(prefix: str, owner: dict[str, Any]) -> Path:
    """A new temporary directory that `owner` (a `_as_postgres()`) owns and can reach:
    as root, under a parent every user can traverse (TMPDIR may be root's own)."""
    parent = Path(tempfile.gettempdir())
    if owner and not _traversable_by_all(parent):
        parent = Path("/tmp")
    directory = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    if owner:
        os.chown(directory, owner["user"], owner["group"])
    return directory


def _traversable_by_all(path: Path) -> bool:
    return all(os.stat(part).st_mode & stat.S_IXOTH for part in (path, *path.parents))


class _LoggedProcess:
    """A server process whose output goes to a log file through a thread that also
    watches for the line saying it is ready (or for its end)."""

    def __init__(
        self, argv: list[str], log_path: Path, ready_line: str, cwd: Path, **popen: Any
    ) -> None:
        self.log_path = log_path
        self._ready_line = ready_line.lower()
        self._tail: deque[str] = deque(maxlen=40)
        self._settled = threading.Event()
        self.ready = False
        self.ended = False
        """The process closed its output: it has exited (or is exiting)."""
        self.process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env={**os.environ, "LC_ALL": "C"},
            **popen,
        )
        assert self.process.stdout is not None
        self._reader = threading.Thread(
            target=self._read, args=(self.process.stdout,), name=f"log {argv[0]}", daemon=True
        )
        self._reader.start()

    def _read(self, output: IO[bytes]) -> None:
        with output, self.log_path.open("ab") as log:
            for raw in output:
                log.write(raw)
                log.flush()
                line = raw.decode(errors="replace").rstrip()
                self._tail.append(line)
                if not self.ready and self._ready_line in line.lower():
                    self.ready = True
                    self._settled.set()
        self.ended = True
        self._settled.set()

    def wait_ready(self, what: str) -> None:
        """Until the ready line, or the process ends, or the deadline; only the first returns."""
        self._settled.wait(START_TIMEOUT_SECONDS)
        if self.ready:
            return
        exited = self.ended
        self.stop(signal.SIGKILL)
        if exited:
            raise ServerFailed(f"{what} exited before it was ready:\n{self.tail()}")
        raise ServerFailed(
            f"{what} was not ready within {START_TIMEOUT_SECONDS:.0f} s:\n{self.tail()}"
        )

    def tail(self) -> str:
        return "\n".join(self._tail)

    def stop(self, first_signal: signal.Signals) -> None:
        """`first_signal`, then SIGKILL if it has not ended in time."""
        if self.process.poll() is None:
            self.process.send_signal(first_signal)
            try:
                self.process.wait(STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._reader.join(STOP_TIMEOUT_SECONDS)


class PostgresServer:
    """`with PostgresServer() as server:` a private PostgreSQL cluster on 127.0.0.1 with
    trust authentication (loopback only, nothing else can reach it); each test asks
    `create_database()` for a database of its own."""

    def __init__(self) -> None:
        self.bin_dir = postgres_bin_dir()
        self._owner = _as_postgres()
        self.directory = _private_directory("unmixed-postgres-", self._owner)
        self.port = 0
        self._server: _LoggedProcess | None = None
        self.start_seconds = 0.0
        """How long `start` took: initdb, the server's start and the first connection."""

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def data_dir(self) -> Path:
        return self.directory / "data"

    @property
    def log_path(self) -> Path:
        return self.directory / "postgres.log"

    def start(self) -> None:
        began = time.monotonic()
        self._initdb()
        for _ in range(PORT_ATTEMPTS):
            self.port = free_port()
            server = _LoggedProcess(
                [
                    str(self.bin_dir / "postgres"),
                    "-D",
                    str(self.data_dir),
                    "-p",
                    str(self.port),
                    *(f"--{name}={value}" for name, value in POSTGRES_SETTINGS.items()),
                ],
                self.log_path,
                "database system is ready to accept connections",
                self.directory,
                **self._owner,
            )
            try:
                server.wait_ready("PostgreSQL")
            except ServerFailed:
                if "already in use" in server.tail():
                    continue
                raise
            self._server = server
            break
        else:
            raise ServerFailed(f"PostgreSQL found no free port in {PORT_ATTEMPTS} tries")
        with self._connect("postgres") as connection:
            connection.execute("SELECT 1")
        self.start_seconds = time.monotonic() - began

    def _initdb(self) -> None:
        result = subprocess.run(
            [
                str(self.bin_dir / "initdb"),
                "--pgdata",
                str(self.data_dir),
                "--username",
                POSTGRES_SUPERUSER,
                "--auth",
                "trust",
                "--encoding",
                "UTF8",
                "--locale",
                "C",
                "--no-sync",
                "--no-instructions",
            ],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            cwd=self.directory,
            env={**os.environ, "LC_ALL": "C"},
            check=False,
            **self._owner,
        )
        if result.returncode != 0:
            raise ServerFailed(
                f"initdb failed ({result.returncode}):\n{result.stdout}{result.stderr}"
            )
        # Only TCP from loopback, without a password: initdb also trusts ::1 and the socket.
        (self.data_dir / "pg_hba.conf").write_text(
            f"host all {POSTGRES_SUPERUSER} 127.0.0.1/32 trust\n"
        )

    def stop(self) -> None:
        """Fast shutdown (open connections are cut), then the cluster is deleted."""
        if self._server is not None:
            self._server.stop(signal.SIGINT)
            self._server = None
        shutil.rmtree(self.directory, ignore_errors=True)

    def url(self, database: str) -> str:
        """SQLAlchemy's URL of `database` on this server, through psycopg 3."""
        return f"postgresql+psycopg://{POSTGRES_SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A new empty database with a random name; its SQLAlchemy URL."""
        from psycopg import sql

        name = f"test_{secrets.token_hex(6)}"
        with self._connect("postgres") as connection:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)

    def drop_database(self, url: str) -> None:
        """Drop the database `url` names, cutting whatever connections a test left open."""
        from psycopg import sql
        from sqlalchemy import make_url

        name = make_url(url).database
        if name is None or not name.startswith("test_"):
            raise ValueError(f"not a database create_database made: {url}")
        with self._connect("postgres") as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    @contextlib.contextmanager
    def _connect(self, database: str) -> Iterator[Any]:
        """An autocommit psycopg connection (CREATE DATABASE cannot run in a transaction)."""
        import psycopg

        with psycopg.connect(
            host="127.0.0.1",
            port=self.port,
            user=POSTGRES_SUPERUSER,
            dbname=database,
            autocommit=True,
            connect_timeout=10,
        ) as connection:
            yield connection

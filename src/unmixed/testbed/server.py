"""Run Janus, the testbed's SFU, as a loopback-only child process.

The configuration is written fresh for each run with free ports, so several
testbeds (a developer's demo and the test suite, say) never collide.
"""

import asyncio
import contextlib
import glob
import hashlib
import os
import shutil
import subprocess
import tempfile
from importlib import resources
from pathlib import Path

import httpx

from unmixed.net import free_port
from unmixed.service import Service

READY_TIMEOUT_SECONDS = 15.0
_UNUSED_PLUGINS = "duktape echotest lua nosip recordplay sip streaming textroom videocall voicemail"
_UNUSED_TRANSPORTS = "mqtt nanomsg pfunix rabbitmq websockets"
_UNUSED_EVENT_HANDLERS = "gelfevh mqttevh nanomsgevh rabbitmqevh sampleevh wsevh"


class JanusNotInstalled(RuntimeError):
    """Janus is installed by the setup script (`apt-get install janus`)."""


def _library_dir() -> Path:
    """Where Debian put Janus's plugins, whatever the architecture."""
    found = glob.glob("/usr/lib/*/janus/plugins") or glob.glob("/usr/lib/janus/plugins")
    if not found:
        raise JanusNotInstalled("Janus plugins not found; run scripts/setup")
    return Path(found[0]).parent


def _disabled(names: str) -> str:
    return ",".join(f"libjanus_{name}.so" for name in names.split())


def _write_config(folder: Path, http_port: int, rtp_ports: tuple[int, int]) -> None:
    lib = _library_dir()
    (folder / "janus.jcfg").write_text(
        f"""general: {{
    plugins_folder = "{lib}/plugins"
    transports_folder = "{lib}/transports"
    events_folder = "{lib}/events"
    loggers_folder = "{lib}/loggers"
    debug_level = 3
    session_timeout = 60
    server_name = "unmixed-testbed"
    interface = "127.0.0.1"
}}
media: {{
    ipv6 = false
    rtp_port_range = "{rtp_ports[0]}-{rtp_ports[1]}"
}}
nat: {{
    full_trickle = false
    ice_lite = false
    ice_tcp = false
    ignore_mdns = true
    ice_enforce_list = "lo"
}}
plugins: {{ disable = "{_disabled(_UNUSED_PLUGINS)}" }}
transports: {{ disable = "{_disabled(_UNUSED_TRANSPORTS)}" }}
loggers: {{ disable = "libjanus_jsonlog.so" }}
events: {{ broadcast = false disable = "{_disabled(_UNUSED_EVENT_HANDLERS)}" }}
"""
    )
    (folder / "janus.transport.http.jcfg").write_text(
        f"""general: {{ json = "compact" base_path = "/janus" http = true port = {http_port}
    ip = "127.0.0.1" https = false }}
admin: {{ admin_http = false admin_https = false }}
"""
    )
    (folder / "janus.plugin.videoroom.jcfg").write_text("general: { }\n")
    (folder / "janus.plugin.audiobridge.jcfg").write_text(
        'general: { local_ip = "127.0.0.1" events = false }\n'
    )


def loopback_shim() -> Path:
    """Build the getifaddrs shim once per source version, in the user's cache."""
    source = resources.files("unmixed.testbed").joinpath("lo_as_nic.c").read_bytes()
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "unmixed"
    shim = cache / f"lo_as_nic-{hashlib.sha256(source).hexdigest()[:12]}.so"
    if not shim.exists():
        cache.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as build:
            c_file = Path(build) / "lo_as_nic.c"
            c_file.write_bytes(source)
            built = Path(build) / "lo_as_nic.so"
            subprocess.run(
                ["cc", "-shared", "-fPIC", "-o", str(built), str(c_file), "-ldl"], check=True
            )
            shutil.move(built, shim)
    return shim


class JanusServer(Service):
    """A Janus process on 127.0.0.1; `async with` starts it and stops it."""

    def __init__(self) -> None:
        self.http_port = free_port()
        self._config_dir = tempfile.TemporaryDirectory(prefix="unmixed-janus-")
        self._process: asyncio.subprocess.Process | None = None
        self.log_path = Path(self._config_dir.name) / "janus.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}/janus"

    async def start(self) -> None:
        if shutil.which("janus") is None:
            raise JanusNotInstalled("the janus binary is missing; run scripts/setup")
        folder = Path(self._config_dir.name)
        first_rtp = 20000 + (self.http_port % 400) * 100
        _write_config(folder, self.http_port, (first_rtp, first_rtp + 99))
        environment = {**os.environ, "LD_PRELOAD": str(loopback_shim())}
        with self.log_path.open("wb") as log:
            self._process = await asyncio.create_subprocess_exec(
                "janus",
                "-F",
                str(folder),
                "--disable-colors",
                stdout=log,
                stderr=subprocess.STDOUT,
                env=environment,
                start_new_session=True,
            )
        await self._wait_until_ready()

    async def _wait_until_ready(self) -> None:
        async with httpx.AsyncClient(timeout=1.0) as http:
            async with asyncio.timeout(READY_TIMEOUT_SECONDS):
                while True:
                    if self._process is not None and self._process.returncode is not None:
                        raise RuntimeError(f"Janus exited at start; see {self.log_path}")
                    with contextlib.suppress(httpx.TransportError):
                        if (await http.get(f"{self.url}/info")).status_code == 200:
                            return
                    await asyncio.sleep(0.05)

    async def kill(self) -> None:
        """SIGKILL Janus, as a crash would: nobody in its rooms is told goodbye."""
        if self._process is not None and self._process.returncode is None:
            self._process.kill()
            await self._process.wait()

    async def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.returncode is None:
            process.terminate()
            try:
                async with asyncio.timeout(5):
                    await process.wait()
            except TimeoutError:
                process.kill()
                await process.wait()
        self._config_dir.cleanup()

"""The testbed's web meeting: a small meeting client served on 127.0.0.1.

It is what a browser bot (and a browser participant) joins, the way people join
a meeting site: `http://127.0.0.1:PORT/videoroom/ROOM` or `/audiobridge/ROOM`,
with `?pin=...` for a locked room. The page speaks to Janus's HTTP API itself
(Janus answers CORS with `*`), using janus.js from Debian's
`libjs-janus-gateway`, served from here: nothing comes from the internet.
"""

from importlib import resources
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import Route

from unmixed.asgi_server import AsgiServer
from unmixed.testbed.scenario import RoomKind

JANUS_JS = Path("/usr/share/javascript/janus-gateway/janus.js")
JANUS_URL_PLACEHOLDER = "__JANUS_URL__"
ASSETS = {"meeting.js": "text/javascript", "meeting.css": "text/css"}


class JanusJsMissing(RuntimeError):
    """janus.js is installed by the setup script (`apt-get install libjs-janus-gateway`)."""


def web_meeting_url(base_url: str, kind: RoomKind, room: int, pin: str | None = None) -> str:
    suffix = f"?pin={pin}" if pin else ""
    return f"{base_url}/{kind.value}/{room}{suffix}"


def _asset(name: str) -> str:
    return resources.files("unmixed.testbed").joinpath(f"web/{name}").read_text()


def create_web_app(janus_url: str) -> Starlette:
    """The page for any room of the Janus at `janus_url`; the page finds out if it exists."""
    page = _asset("meeting.html").replace(JANUS_URL_PLACEHOLDER, janus_url)

    async def meeting(request: Request) -> Response:
        if request.path_params["kind"] not in set(RoomKind):
            return Response(status_code=404)
        return HTMLResponse(page)

    async def janus_js(request: Request) -> Response:
        return FileResponse(JANUS_JS, media_type="text/javascript")

    async def asset(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in ASSETS:
            return Response(status_code=404)
        return Response(_asset(name), media_type=ASSETS[name])

    return Starlette(
        routes=[
            Route("/assets/janus.js", janus_js),
            Route("/assets/{name}", asset),
            Route("/{kind}/{room:int}", meeting),
        ]
    )


class WebMeetingServer(AsgiServer):
    """`async with WebMeetingServer(janus_url) as web:` serves the page on `web.url`."""

    def __init__(self, janus_url: str) -> None:
        if not JANUS_JS.is_file():
            raise JanusJsMissing(f"no janus.js at {JANUS_JS}; run scripts/setup")
        super().__init__(create_web_app(janus_url), name="web meeting server")

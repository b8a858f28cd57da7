"""A worker's `/healthz` and `/metrics`, on a small HTTP server thread of its own
(the worker itself is Celery's, with no web server to add routes to)."""

import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from wsgiref.types import StartResponse, WSGIEnvironment

from prometheus_client.core import Metric

from unmixed.metrics import CONTENT_TYPE, render


class _QuietHandler(WSGIRequestHandler):
    timeout = 10
    """A client that connects and says nothing is dropped after this."""

    def log_message(self, format: str, *args: object) -> None:
        """Scrapes every few seconds are not worth a log line each."""


class _Server(ThreadingMixIn, WSGIServer):
    """A thread per request: one slow client never holds up the liveness probe."""

    daemon_threads = True


def serve_health(address: tuple[str, int], metrics: Callable[[], list[Metric]]) -> WSGIServer:
    """Serve on `address` from a daemon thread; the server, to shut down."""

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/healthz":
            start_response("200 OK", [("Content-Type", "application/json")])
            return [b'{"status":"ok"}']
        if path == "/metrics":
            start_response("200 OK", [("Content-Type", CONTENT_TYPE)])
            return [render(metrics())]
        start_response("404 Not Found", [("Content-Type", "application/json")])
        return [b'{"code":"not_found","detail":"only /healthz and /metrics here"}']

    host, port = address
    server = make_server(host, port, app, server_class=_Server, handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, name="health", daemon=True).start()
    return server

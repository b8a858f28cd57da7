"""Run the API inside an existing event loop (the demo, the benchmark, the tests)."""

from unmixed.api.app import create_app
from unmixed.asgi_server import AsgiServer
from unmixed.settings import Settings


class ApiServer(AsgiServer):
    """`async with ApiServer(settings) as api:` serves on `api.url` until the block ends."""

    def __init__(self, settings: Settings, *, port: int | None = None) -> None:
        super().__init__(create_app(settings), port=port, name="API server")
        self.settings = settings

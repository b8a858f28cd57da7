"""The FastAPI application."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from urllib.parse import urlsplit

from fastapi import FastAPI

from unmixed import __version__
from unmixed.api.errors import install_error_handlers
from unmixed.api.guard import RequestGuard
from unmixed.api.openapi import install_openapi
from unmixed.api.routes import router
from unmixed.api.state import ServiceState
from unmixed.api.webhooks import router as webhooks_router
from unmixed.bots.dispatcher import LocalDispatcher
from unmixed.logs import register_secret
from unmixed.settings import Settings
from unmixed.store import Bots, open_database
from unmixed.webhooks.delivery import WebhookDelivery


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    database_url = settings.resolved_database_url()
    register_secret(settings.api_key.get_secret_value() if settings.api_key else None)
    register_secret(urlsplit(database_url).password)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        database = open_database(database_url, migrate=True)
        dispatcher = LocalDispatcher(Bots(database), settings)
        app.state.service = state = ServiceState(settings, database, dispatcher)
        webhooks = WebhookDelivery(
            database, state.egress, timedelta(hours=settings.webhook_retry_hours)
        )
        dispatcher.dispatch_waiting()
        try:
            async with webhooks:
                try:
                    yield
                finally:
                    await dispatcher.shutdown()  # first: the statuses it writes go out too
        finally:
            database.engine.dispose()

    app = FastAPI(
        title="unmixed",
        version=__version__,
        summary="Recall-compatible meeting bots that stream each participant's audio separately.",
        lifespan=lifespan,
    )
    app.router.redirect_slashes = False
    app.add_middleware(RequestGuard)
    install_error_handlers(app)
    install_openapi(app)
    app.include_router(router)
    app.include_router(webhooks_router)
    return app

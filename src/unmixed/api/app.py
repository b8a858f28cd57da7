"""The FastAPI application."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI

from unmixed import __version__
from unmixed.api.errors import install_error_handlers
from unmixed.api.guard import RequestGuard
from unmixed.api.health import router as health_router
from unmixed.api.openapi import install_openapi
from unmixed.api.routes import router
from unmixed.api.state import ServiceState
from unmixed.api.webhooks import router as webhooks_router
from unmixed.bots.launchers import open_launcher
from unmixed.bots.scheduler import Scheduler
from unmixed.commands import CommandNotices
from unmixed.logs import register_secret
from unmixed.settings import Settings
from unmixed.store import Bots, open_database
from unmixed.store.leases import Leases
from unmixed.webhooks.delivery import WebhookDelivery


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    database_url = settings.resolved_database_url()
    register_secret(settings.api_key.get_secret_value() if settings.api_key else None)
    for password in settings.connection_passwords():
        register_secret(password)
    redis_url = settings.redis_url.get_secret_value() if settings.redis_url else None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        database = open_database(database_url, migrate=True)
        bots, leases = Bots(database), Leases(database)
        launcher = open_launcher(settings, bots, leases)
        lead = timedelta(seconds=settings.schedule_lead_seconds)
        scheduler = Scheduler(bots, leases, launcher, lead)
        notices = CommandNotices(redis_url)
        app.state.service = state = ServiceState(settings, database, launcher, scheduler, notices)
        webhooks = WebhookDelivery(
            database, state.egress, timedelta(hours=settings.webhook_retry_hours)
        )
        try:
            async with webhooks:
                try:
                    async with scheduler:
                        yield
                finally:
                    await launcher.close()  # before webhooks: the statuses it writes go out too
        finally:
            await notices.close()
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
    app.include_router(health_router)
    return app

"""Configuration from flags or `UNMIXED_*` environment variables.

Secrets are `SecretStr`: printing the settings, or a traceback that holds
them, shows `**********`, never the value.
"""

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, NonNegativeFloat, PositiveFloat, PositiveInt, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_data_dir() -> Path:
    return Path.home() / ".local" / "share" / "unmixed"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="UNMIXED_", extra="ignore")

    data_dir: Path = Field(default_factory=default_data_dir)
    database_url: SecretStr | None = Field(
        default=None, description="SQLAlchemy URL; a SQLite file in data_dir when unset."
    )
    api_key: SecretStr | None = Field(
        default=None,
        description="A key that is always valid, checked against this setting only, never stored.",
    )
    testbed_enabled: bool = Field(
        default=False,
        description="Accept testbed:// meetings (loopback Janus rooms): for tests and demos only.",
    )
    egress_allow_private: bool = Field(
        default=True,
        description=(
            "Let bots connect to loopback and private addresses (a receiver on the same host or "
            "network). Set false where tenants must not reach the operator's network."
        ),
    )
    zoom_client_id: str | None = Field(
        default=None, description="The Zoom Meeting SDK app's client id (for Zoom meetings)."
    )
    zoom_client_secret: SecretStr | None = Field(
        default=None, description="Its client secret: the bot signs the SDK's JWT with it."
    )
    public_url: str | None = Field(
        default=None,
        description="The API's public base URL, e.g. https://bots.example.com, for page links.",
    )
    trust_proxy_headers: bool = Field(
        default=False,
        description="Build page links from X-Forwarded-Proto/-Host: only behind a trusted proxy.",
    )
    bot_slots: PositiveInt | None = Field(
        default=None,
        description="Bots that may run at once here; by default from the cores and memory.",
    )
    rate_limit_create: str = Field(default="60/minute", description="Per key: POST /bot/.")
    rate_limit_list: str = Field(default="60/minute", description="Per key: GET /bot/.")
    rate_limit_other: str = Field(default="300/minute", description="Per key: every other route.")
    max_body_bytes: PositiveInt = Field(default=1 << 20, description="Largest request body.")
    launcher: Literal["local", "celery", "kubernetes"] = Field(
        default="local",
        description=(
            "Where bots run: `local` child processes of the API (the default), `celery` "
            "workers (`unmixed worker`) over Redis, or a Kubernetes Job per bot."
        ),
    )
    redis_url: SecretStr | None = Field(
        default=None,
        description=(
            "Redis: the Celery broker, the worker slot registry, instant bot commands and "
            "shared rate limits. Required by the celery launcher."
        ),
    )
    schedule_lead_seconds: NonNegativeFloat = Field(
        default=5.0,
        description="A bot with a join_at is started this long before it (a browser needs time).",
    )
    kubernetes_namespace: str = Field(default="unmixed", description="Namespace of bot Jobs.")
    kubernetes_image: str = Field(
        default="unmixed:latest", description="The image bot Jobs run (the same as the API's)."
    )
    kubernetes_bot_secret: str = Field(
        default="unmixed-bot",
        description="The Secret whose keys become the bot Job's environment (database URL ...).",
    )
    webhook_retry_hours: PositiveFloat = Field(
        default=24.0,
        description="How long a status webhook is retried (as at Recall) before it is failed.",
    )

    def resolved_database_url(self) -> str:
        if self.database_url is not None:
            return self.database_url.get_secret_value()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{self.data_dir / 'unmixed.db'}"

    def connection_passwords(self) -> list[str]:
        """The passwords inside the database and Redis URLs, for the log's redaction:
        an error that quotes a URL must not show them."""
        urls = [self.resolved_database_url()]
        if self.redis_url is not None:
            urls.append(self.redis_url.get_secret_value())
        return [password for url in urls if (password := urlsplit(url).password)]

    def bot_environment(self) -> dict[str, str]:
        """`UNMIXED_*` variables that give a bot process these settings (never the API key)."""
        return {
            "UNMIXED_DATA_DIR": str(self.data_dir),
            "UNMIXED_DATABASE_URL": self.resolved_database_url(),
            "UNMIXED_TESTBED_ENABLED": str(self.testbed_enabled).lower(),
            "UNMIXED_EGRESS_ALLOW_PRIVATE": str(self.egress_allow_private).lower(),
            "UNMIXED_ZOOM_CLIENT_ID": self.zoom_client_id or "",
            "UNMIXED_ZOOM_CLIENT_SECRET": (
                self.zoom_client_secret.get_secret_value() if self.zoom_client_secret else ""
            ),
            **({"UNMIXED_REDIS_URL": self.redis_url.get_secret_value()} if self.redis_url else {}),
        }

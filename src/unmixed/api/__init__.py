"""The HTTP API: Recall's v1 bot routes, served by FastAPI."""

from unmixed.api.app import create_app

__all__ = ["create_app"]

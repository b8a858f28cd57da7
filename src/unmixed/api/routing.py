"""Routes that answer with and without their trailing slash, with no redirect:
Recall's clients send both, and a redirected POST loses its body."""

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter

from unmixed.api.openapi import documented_errors


def slashed_routes(
    router: APIRouter,
) -> Callable[..., Callable[[Callable[..., Any]], Callable[..., Any]]]:
    """A `route(method, path, errors=..., **options)` decorator for `router` that
    registers `path` and `path/`; only the slashed one is documented."""

    def route(
        method: str, path: str, *, errors: tuple[int, ...] = (), **options: Any
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def register(endpoint: Callable[..., Any]) -> Callable[..., Any]:
            responses = documented_errors(errors)
            router.add_api_route(
                f"{path}/", endpoint, methods=[method], responses=responses, **options
            )
            router.add_api_route(
                path, endpoint, methods=[method], include_in_schema=False, **options
            )
            return endpoint

        return register

    return route

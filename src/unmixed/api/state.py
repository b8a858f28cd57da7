"""What the API's routes share: settings, the store and the dispatcher."""

from dataclasses import dataclass, field

from fastapi import Request

from unmixed.bots.dispatcher import LocalDispatcher
from unmixed.settings import Settings
from unmixed.store import ApiKeys, Bots, Database


@dataclass
class ServiceState:
    settings: Settings
    database: Database
    dispatcher: LocalDispatcher
    bots: Bots = field(init=False)
    keys: ApiKeys = field(init=False)
    configured_key_id: int | None = field(init=False)
    """The stored id of `UNMIXED_API_KEY`, so bots made with it have an owner like any other."""

    def __post_init__(self) -> None:
        self.bots = Bots(self.database)
        self.keys = ApiKeys(self.database)
        api_key = self.settings.api_key
        self.configured_key_id = self.keys.ensure(api_key, "UNMIXED_API_KEY") if api_key else None


def service_state(request: Request) -> ServiceState:
    state: ServiceState = request.app.state.service
    return state

"""What the API's routes share: settings, the store, the dispatcher and the policies."""

from dataclasses import dataclass, field

from fastapi import Request

from unmixed.api.rate_limits import RateLimits
from unmixed.bots.dispatcher import LocalDispatcher
from unmixed.egress import EgressPolicy
from unmixed.settings import Settings
from unmixed.store import ApiKeys, Bots, Database
from unmixed.store.idempotency import IdempotencyKeys


@dataclass
class ServiceState:
    settings: Settings
    database: Database
    dispatcher: LocalDispatcher
    bots: Bots = field(init=False)
    keys: ApiKeys = field(init=False)
    idempotency: IdempotencyKeys = field(init=False)
    rate_limits: RateLimits = field(init=False)
    egress: EgressPolicy = field(init=False)

    def __post_init__(self) -> None:
        self.bots = Bots(self.database)
        self.keys = ApiKeys(self.database)
        self.idempotency = IdempotencyKeys(self.database)
        self.rate_limits = RateLimits(self.settings)
        self.egress = EgressPolicy(allow_private=self.settings.egress_allow_private)


def service_state(request: Request) -> ServiceState:
    state: ServiceState = request.app.state.service
    return state

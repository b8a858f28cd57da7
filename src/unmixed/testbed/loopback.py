"""Keep aiortc's ICE on 127.0.0.1, where the testbed's Janus listens.

aioice leaves loopback addresses out of its host candidates on purpose, which
is right on the internet and fatal here: the testbed meeting is loopback only.
aioice looks `get_host_addresses` up at gathering time, so swapping the module
attribute is enough, and it affects this process alone.
"""

import aioice.ice


def _loopback_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    return ["127.0.0.1"] if use_ipv4 else []


def use_loopback_ice() -> None:
    """Gather ICE host candidates on 127.0.0.1 only, for every peer connection made after."""
    aioice.ice.get_host_addresses = _loopback_addresses

"""The one egress policy: where a bot or the API may open a connection.

A bot connects wherever a client tells it to (a meeting's host, a realtime
endpoint, later a webhook), so without a policy it is a proxy into the
operator's network. Every outbound connection therefore goes through here
twice: `check_url` when the URL is accepted (a literal address or a known
metadata name is refused with the field named), and `resolve` right before
connecting, which vets every address the name resolves to and returns the one
to connect to, so a name that later resolves elsewhere (DNS rebinding) gains
nothing.

Always refused: link-local (169.254.0.0/16, fe80::/10; the cloud metadata
services live there), the unspecified address, multicast, broadcast and
reserved ranges, and the metadata services' names and other addresses.
Loopback and private ranges are allowed unless the operator turns them off
(`UNMIXED_EGRESS_ALLOW_PRIVATE=false`), as a multi-tenant deployment should.
"""

import asyncio
import functools
import ipaddress
import socket
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

METADATA_HOSTS = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "metadata.azure.com",
        "instance-data",
        "instance-data.ec2.internal",
    }
)
"""Names of cloud metadata services, refused before any lookup."""

METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(address)
    for address in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean
        "169.254.170.2",  # AWS ECS task metadata
        "fd00:ec2::254",  # AWS over IPv6
        "100.100.100.200",  # Alibaba Cloud
        "192.0.0.192",  # Oracle Cloud
    )
)
"""Metadata services outside the always-refused ranges are refused one by one."""

DEFAULT_PORTS = {"ws": 80, "http": 80, "wss": 443, "https": 443}


NAT64_PREFIX = ipaddress.IPv6Network("64:ff9b::/96")

LOOKUPS = ThreadPoolExecutor(max_workers=8, thread_name_prefix="dns-lookup")
"""Name lookups get threads of their own: a resolver that never answers (a name a
client chose) must not hold the default pool's threads, which database calls use."""


class EgressRefused(ValueError):
    """The policy forbids this destination, or the URL names none."""


@dataclass(frozen=True)
class Destination:
    """Where to connect: the vetted address, and the name to present (TLS, Host)."""

    host: str
    address: str
    port: int

    def pinned(self, url: str) -> str:
        """`url` aimed at the vetted address instead of the name, for a plain-text
        client that takes no separate address to connect to (no TLS: no name to check)."""
        parts = urlsplit(url)
        address = f"[{self.address}]" if ":" in self.address else self.address
        return parts._replace(netloc=f"{address}:{self.port}").geturl()


def parse_url(url: str) -> SplitResult:
    """Split `url`, refusing what no connection could honestly be made to."""
    if not url.isprintable() or any(character.isspace() for character in url):
        raise EgressRefused("the URL holds spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise EgressRefused("the URL's host or port is malformed") from error
    if not parts.hostname:
        raise EgressRefused("the URL names no host")
    if port == 0:
        raise EgressRefused("the URL's port must be 1-65535")
    if "%" in parts.hostname:
        raise EgressRefused("the URL's host may not be percent-encoded")
    return parts


def literal_address(host: str) -> IpAddress | None:
    """The address `host` spells, or None for a name.

    A number the C resolver would also take for an IPv4 address (`2130706433`,
    `0x7f.1`, `127.1`) is refused rather than guessed at: only dotted quads
    are addresses here.
    """
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    try:
        socket.inet_aton(host)
    except OSError:
        return None
    raise EgressRefused("write an IPv4 address as four decimal numbers, e.g. 192.0.2.10")


def _embedded_ipv4(address: IpAddress) -> IpAddress:
    """The IPv4 address an IPv6 one stands for (mapped, 6to4, NAT64), which is what
    a connection to it would really reach."""
    if isinstance(address, ipaddress.IPv4Address):
        return address
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]  # the client's own address, behind the relay
    if address in NAT64_PREFIX:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


@dataclass(frozen=True)
class EgressPolicy:
    allow_private: bool = True

    def check_address(self, address: IpAddress) -> None:
        """Raise `EgressRefused` unless a connection to `address` is allowed."""
        address = _embedded_ipv4(address)
        if address in METADATA_ADDRESSES:
            raise EgressRefused(f"{address} is a cloud metadata service")
        if address.is_link_local:
            raise EgressRefused(f"{address} is link-local")
        if address.is_unspecified or address.is_multicast:
            raise EgressRefused(f"{address} is not a destination")
        site_local = isinstance(address, ipaddress.IPv6Address) and address.is_site_local
        if address.is_loopback or site_local or (address.is_private and not address.is_reserved):
            if not self.allow_private:
                raise EgressRefused(f"{address} is a loopback or private address, refused here")
            return
        if address.is_reserved:
            raise EgressRefused(f"{address} is in a reserved range")
        if not self.allow_private and not address.is_global:
            raise EgressRefused(f"{address} is not a public address, refused here")

    def check_host(self, host: str) -> None:
        """What can be known of `host` without a lookup: its name, or the literal address."""
        name = host.lower().rstrip(".")
        if name in METADATA_HOSTS:
            raise EgressRefused(f"{name} is a cloud metadata service")
        address = literal_address(name)
        if address is not None:
            self.check_address(address)

    def check_url(self, url: str) -> SplitResult:
        """Refuse a malformed URL or one whose host is already known to be forbidden."""
        parts = parse_url(url)
        self.check_host(parts.hostname or "")
        return parts

    async def resolve(self, url: str) -> Destination:
        """Look the URL's host up now and return an address the policy allows.

        Every address the name has must pass: a name that mixes an allowed
        address with a forbidden one is refused as a whole.
        """
        parts = self.check_url(url)
        host = parts.hostname or ""
        port = parts.port or DEFAULT_PORTS.get(parts.scheme, 80)
        lookup = functools.partial(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
        try:
            found = await asyncio.get_running_loop().run_in_executor(LOOKUPS, lookup)
        except socket.gaierror as error:
            raise OSError(f"cannot resolve {host}") from error
        addresses = [ipaddress.ip_address(str(entry[4][0]).split("%")[0]) for entry in found]
        for address in addresses:
            self.check_address(address)
        return Destination(host=host, address=str(addresses[0]), port=port)

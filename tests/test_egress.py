"""The egress policy: what it refuses by address, by name and on the resolved address,
and a bot that meets it at connect time."""

import ipaddress
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from tests.conftest import UNLIMITED_RATES
from tests.meeting import audio_endpoint
from unmixed.api.server import ApiServer
from unmixed.client import AsyncUnmixedClient
from unmixed.egress import EgressPolicy, EgressRefused
from unmixed.receiver import AudioReceiver
from unmixed.settings import Settings
from unmixed.testbed.meeting import TestbedMeeting
from unmixed.testbed.scenario import Scenario
from unmixed.testbed.server import JanusServer
from unmixed.wire.status import FINAL_CODES, StatusCode, SubCode

ALWAYS_REFUSED = [
    "169.254.169.254",  # link-local, the metadata service
    "169.254.1.1",
    "fe80::1",
    "0.0.0.0",
    "::",
    "224.0.0.1",  # multicast
    "ff02::1",
    "255.255.255.255",
    "240.0.0.1",  # reserved
    "100.100.100.200",  # Alibaba's metadata service
    "fd00:ec2::254",  # AWS's, over IPv6
    "::ffff:169.254.169.254",  # the same, mapped, 6to4 and NAT64
    "2002:a9fe:a9fe::1",
    "64:ff9b::a9fe:a9fe",
    "2001:0:4136:e378:8000:63bf:5601:5601",  # Teredo, for a client at 169.254.169.254
]
PRIVATE = [
    "127.0.0.1",
    "::1",
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.1",
    "fc00::1",
    "100.64.0.1",  # carrier-grade NAT, and Tailscale
    "fec0::1",  # the old site-local range
]
PUBLIC = ["8.8.8.8", "2001:4860:4860::8888"]


@pytest.mark.parametrize("address", ALWAYS_REFUSED)
def test_always_refused(address: str) -> None:
    for policy in (EgressPolicy(allow_private=True), EgressPolicy(allow_private=False)):
        with pytest.raises(EgressRefused):
            policy.check_address(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", PRIVATE)
def test_private_allowed_unless_the_operator_says_no(address: str) -> None:
    EgressPolicy(allow_private=True).check_address(ipaddress.ip_address(address))
    with pytest.raises(EgressRefused):
        EgressPolicy(allow_private=False).check_address(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", PUBLIC)
def test_public_allowed(address: str) -> None:
    EgressPolicy(allow_private=False).check_address(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "url",
    [
        "ws://metadata.google.internal/",
        "ws://METADATA.google.internal./",
        "ws://2130706433/",
        "ws://0x7f.1/",
        "ws://127.1/",
        "ws://",
        "ws://a b/",
        "ws://%31%32%37.0.0.1/",
        "ws://h:0/",
        "ws://h:65536/",
        "ws://[::1/",
    ],
)
def test_urls_refused_before_any_lookup(url: str) -> None:
    with pytest.raises(EgressRefused):
        EgressPolicy().check_url(url)


async def test_a_name_is_vetted_on_the_address_it_resolves_to() -> None:
    """A name passes `check_url` (nothing is known of it yet) and is refused on
    its address at connect time: this is what stops DNS rebinding."""
    strict = EgressPolicy(allow_private=False)
    strict.check_url("ws://localhost:9/")
    with pytest.raises(EgressRefused):
        await strict.resolve("ws://localhost:9/")
    destination = await EgressPolicy().resolve("wss://localhost/audio?token=t")
    assert (destination.host, destination.address, destination.port) == (
        "localhost",
        "127.0.0.1",
        443,
    )


async def test_a_bot_on_a_server_that_refuses_private_addresses_never_connects(
    tmp_path: Path, janus: JanusServer
) -> None:
    """With private egress off, a loopback receiver is refused at create time by its
    address, and the testbed's Janus, named `localhost`, at connect time: the bot
    ends `fatal` in its own words, having connected to nothing."""
    settings = Settings(
        data_dir=tmp_path,
        api_key=SecretStr("egress-key"),
        testbed_enabled=True,
        egress_allow_private=False,
        **UNLIMITED_RATES,
    )
    speaker = Scenario.model_validate(
        {"participants": [{"name": "A", "tone_hz": 440}], "duration": 30}
    )
    async with (
        ApiServer(settings) as api,
        AsyncUnmixedClient(api.url, "egress-key") as client,
        AudioReceiver() as receiver,
        TestbedMeeting(janus.url, speaker) as meeting,
    ):
        meeting_url = meeting.meeting_url.replace("127.0.0.1", "localhost")
        endpoint = audio_endpoint(receiver)
        with pytest.raises(httpx.HTTPStatusError) as refused:
            await client.create_bot(
                meeting_url=meeting_url,
                recording_config={"audio_separate_raw": {}, "realtime_endpoints": [endpoint]},
            )
        assert refused.value.response.status_code == 400
        assert (
            refused.value.response.json()["field"] == "recording_config.realtime_endpoints[0].url"
        )
        endpoint["url"] = endpoint["url"].replace("127.0.0.1", "localhost")
        bot = await client.create_bot(
            meeting_url=meeting_url,
            recording_config={"audio_separate_raw": {}, "realtime_endpoints": [endpoint]},
        )
        bot = await client.wait_for_status(bot.id, set(FINAL_CODES), timeout=30)
    last = bot.status_changes[-1]
    assert (last.code, last.sub_code) == (StatusCode.FATAL, SubCode.MEETING_ADDRESS_REFUSED)
    assert last.message is not None
    assert "egress policy" in last.message
    assert receiver.connections == []

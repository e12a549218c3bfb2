"""The client a limit counts against: the TCP peer, or behind a trusted proxy the address
that proxy saw; never an address the client wrote itself."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.api.client_address import (
    UNATTRIBUTED,
    UNIX_SOCKET,
    TrustedProxies,
    forwarded_for,
    resolve,
)

PROXY = "10.0.0.5"
TRUSTED = TrustedProxies.parse(f"{PROXY}, 10.9.0.0/16")
NOBODY = TrustedProxies.parse("")

v4 = st.ip_addresses(v=4).map(str)
public_v4 = st.ip_addresses(v=4, network="198.18.0.0/15").map(str)  # never trusted above
spoofed = st.lists(st.one_of(v4, st.text(max_size=20).filter(lambda t: "," not in t)), max_size=6)


@given(peer=public_v4, written=spoofed)
def test_without_trusted_proxies_the_header_never_gives_a_fresh_key(
    peer: str, written: list[str]
) -> None:
    key = resolve((peer, 40000), written, NOBODY)
    assert key in (peer, UNATTRIBUTED)
    assert key == (UNATTRIBUTED if peer in written else peer)


@given(client=public_v4, written=spoofed)
def test_behind_a_trusted_proxy_the_client_is_what_the_proxy_appended(
    client: str, written: list[str]
) -> None:
    # Whatever the client wrote comes first; the proxy appends the address it saw.
    assert resolve((PROXY, 50000), [*written, client], TRUSTED) == client
    # Through a chain of trusted proxies, each appending its peer.
    chain = [*written, client, "10.9.3.4"]
    assert resolve((PROXY, 50000), chain, TRUSTED) == client


def test_a_trusted_peer_without_the_header_is_itself() -> None:
    assert resolve((PROXY, 50000), [], TRUSTED) == PROXY
    assert resolve((PROXY, 50000), ["10.9.0.1"], TRUSTED) == "10.9.0.1"


def test_the_server_having_taken_the_client_from_the_header_shares_one_key() -> None:
    # uvicorn's default: X-Forwarded-For from 127.0.0.1 replaces the client, port and all.
    for written, client in ((["203.0.113.9"], ("203.0.113.9", 0)),
                            (["1.2.3.4", "[2001:db8::1]:443"], ("2001:db8::1", 443)),
                            (["not-an-address"], ("not-an-address", 0))):  # fmt: skip
        assert resolve(client, written, NOBODY) == UNATTRIBUTED


@given(st.integers(min_value=0, max_value=2**64 - 1), st.integers(min_value=0, max_value=2**64 - 1))
def test_ipv6_clients_are_keyed_by_their_64(a: int, b: int) -> None:
    net = int(ipaddress.IPv6Address("2001:db8:1:2::"))
    one, two = str(ipaddress.IPv6Address(net + a)), str(ipaddress.IPv6Address(net + b))
    assert resolve((one, 1), [], NOBODY) == resolve((two, 2), [], NOBODY) == "2001:db8:1:2::/64"
    other = str(ipaddress.IPv6Address(net + 2**64 + a))
    assert resolve((other, 1), [], NOBODY) != resolve((one, 1), [], NOBODY)


def test_ipv4_mapped_ipv6_is_the_ipv4_address() -> None:
    assert resolve(("::ffff:192.0.2.7", 1), [], NOBODY) == "192.0.2.7"


def test_a_unix_socket_peer_is_trusted_only_when_named() -> None:
    assert resolve(None, ["192.0.2.7"], NOBODY) == UNIX_SOCKET
    behind = TrustedProxies.parse("unix-socket")
    assert resolve(None, ["198.51.100.1", "192.0.2.7"], behind) == "192.0.2.7"


def test_forwarded_for_reads_every_header_left_to_right() -> None:
    headers = [(b"x-forwarded-for", b"1.1.1.1, 2.2.2.2"), (b"host", b"x"),
               (b"X-Forwarded-For", b" 3.3.3.3 ")]  # fmt: skip
    assert forwarded_for(headers) == ["1.1.1.1", "2.2.2.2", "3.3.3.3"]


@pytest.mark.parametrize("spec", ["10.0.0.1, nope", "10.0.0.0/33", "localhost"])
def test_a_bad_trusted_proxy_is_named(spec: str) -> None:
    with pytest.raises(ValueError, match=r"TRUSTED_PROXIES: .* is not an IP address"):
        TrustedProxies.parse(spec)

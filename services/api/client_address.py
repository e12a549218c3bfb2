"""Who the client is, for per-client limits: the TCP peer, or, when that peer is a proxy
the operator named in ``TRUSTED_PROXIES``, the address that proxy saw.

A header is only as good as whoever wrote it. ``X-Forwarded-For`` is read from the
right: each trusted proxy appends the address it received the request from, so the
first entry that is not a trusted proxy is the client. Everything to its left was
written by the client and is ignored. With no trusted proxies (the default) the header
is ignored altogether.

The app does this itself instead of relying on the ASGI server's proxy-header option
(uvicorn's ``--proxy-headers`` is on by default and trusts ``127.0.0.1``), so run the
server with it off (``uvicorn --no-proxy-headers``). If the server rewrote the client
from the header anyway, the true peer is lost: such requests are recognised (their
client is one of the header's own entries) and share one key, ``UNATTRIBUTED``, so a
spoofed header never buys a fresh limit; a warning says how to fix the setup.

IPv6 clients are keyed by their /64 network: one subscriber line usually holds a whole
/64, and rotating addresses inside it must not buy fresh limits either.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
from collections.abc import Iterable, Sequence
from typing import Any

from litestar.types import Scope

log = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

UNATTRIBUTED = "unattributed"
"""The key of requests whose client the ASGI server took from a forwarded header."""
UNIX_SOCKET = "unix-socket"
"""The key of a peer without an IP address (a unix socket), and how to trust one."""

_STATE_KEY = "client_address"
IPV6_PREFIX = 64


class TrustedProxies:
    """The proxies whose ``X-Forwarded-For`` counts: addresses and networks (CIDR), and
    ``unix-socket`` for a proxy that connects over a unix socket."""

    def __init__(self, networks: Iterable[IPNetwork] = (), *, unix_socket: bool = False) -> None:
        self.networks = tuple(networks)
        self.unix_socket = unix_socket

    @classmethod
    def parse(cls, spec: str) -> TrustedProxies:
        """``TRUSTED_PROXIES``: comma-separated; ``ValueError`` names a bad entry."""
        networks: list[IPNetwork] = []
        unix_socket = False
        for entry in (e.strip() for e in spec.split(",")):
            if not entry:
                continue
            if entry == UNIX_SOCKET:
                unix_socket = True
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                raise ValueError(
                    f"TRUSTED_PROXIES: {entry!r} is not an IP address, a network (CIDR) "
                    f"or {UNIX_SOCKET!r}"
                ) from None
        return cls(networks, unix_socket=unix_socket)

    def __bool__(self) -> bool:
        return bool(self.networks) or self.unix_socket

    def trusts(self, ip: IPAddress) -> bool:
        """Whether ``ip`` is one of the trusted proxies."""
        return any(ip in net for net in self.networks)


def parse_ip(text: str) -> IPAddress | None:
    """An address as a forwarded header or a server writes it (``[v6]:port``,
    ``v4:port``, bare), IPv4-mapped IPv6 unmapped; ``None`` if it is not one."""
    text = text.strip()
    if text.startswith("["):
        text = text[1 : text.find("]")] if "]" in text else text
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def key_of(ip: IPAddress) -> str:
    """The limit key of an address: IPv4 as is, IPv6 by its /64."""
    if isinstance(ip, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((ip, IPV6_PREFIX), strict=False))
    return str(ip)


def forwarded_for(headers: Iterable[tuple[bytes, bytes]]) -> list[str]:
    """Every ``X-Forwarded-For`` entry, left to right, across repeated headers."""
    return [
        entry.strip()
        for name, value in headers
        if name.lower() == b"x-forwarded-for"
        for entry in value.decode("latin-1").split(",")
        if entry.strip()
    ]


def _through_proxies(entries: list[str], trusted: TrustedProxies) -> str | None:
    """The first entry from the right that is not a trusted proxy, as a key; the
    leftmost when every entry is one; ``None`` without entries."""
    leftmost: IPAddress | None = None
    for entry in reversed(entries):
        ip = parse_ip(entry)
        if ip is None:
            # Written by a trusted proxy (everything to its right was), but not an
            # address: key it as written, bounded.
            return f"unparsed:{entry[:64]}"
        if not trusted.trusts(ip):
            return key_of(ip)
        leftmost = ip
    return key_of(leftmost) if leftmost is not None else None


def _same_address(a: str, b: str) -> bool:
    return str(parse_ip(a) or a) == str(parse_ip(b) or b)


def _peer_key(host: str) -> str:
    if not host:
        return UNIX_SOCKET
    ip = parse_ip(host)
    return key_of(ip) if ip is not None else f"unparsed:{host[:64]}"


def resolve(client: Sequence[Any] | None, entries: list[str], trusted: TrustedProxies) -> str:
    """The limit key of a request from ``client`` (the ASGI scope's ``(host, port)``)
    carrying ``X-Forwarded-For`` ``entries``, given the ``trusted`` proxies."""
    host = str(client[0]) if client else ""
    peer = parse_ip(host)
    if trusted.trusts(peer) if peer is not None else (not host and trusted.unix_socket):
        return _through_proxies(entries, trusted) or _peer_key(host)
    if host and any(_same_address(host, e) for e in entries):
        # The server took the client from the header (or the client repeats its own
        # address there): the true peer is unknown, so no fresh limit either way.
        _warn_once()
        return UNATTRIBUTED
    return _peer_key(host)


def client_address(scope: Scope, trusted: TrustedProxies) -> str:
    """The request's client as a limit key, worked out once per request."""
    state = scope.setdefault("state", {})
    if (known := state.get(_STATE_KEY)) is None:
        known = state[_STATE_KEY] = resolve(
            scope.get("client"), forwarded_for(scope["headers"]), trusted
        )
    return str(known)


@functools.cache
def _warn_once() -> None:
    log.warning(
        "the ASGI server took the client address from X-Forwarded-For: those requests "
        "share one rate limit. Run uvicorn with --no-proxy-headers and name your proxy "
        "in TRUSTED_PROXIES"
    )

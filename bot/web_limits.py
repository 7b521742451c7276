"""A per-address allowance of refused requests, so that guessing links or secrets
cannot take the server's time from real users.

Every request that fails authentication (401, 403, a link that is unknown or used,
410, an unknown path or method, 404/405) uses one unit of its address's allowance;
the allowance refills at `[http] refusals_per_minute`, up to that many. An address
with none left gets 429 for every request, before any work is done, until a unit
has refilled. Requests that succeed use nothing, so Kakao's and Telegram's servers,
which send every user's messages from a few addresses, are never slowed (unless
they are refused too).

The address is the TCP peer, unless the peer is one of `[http] trusted_proxies`:
then it is the last address in X-Forwarded-For that is not a trusted proxy. IPv6
clients are counted per /64, the block one subscriber usually gets.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

REFUSALS: Final = frozenset({401, 403, 404, 405, 410})
"""Answers that mean "you did not prove who you are" (or a scan of what is here)."""
MAX_TRACKED: Final = 50_000
"""Addresses remembered at most; past it, refilled ones and then the oldest are dropped."""


def refused(status: int) -> bool:
    return status in REFUSALS


@dataclass(frozen=True, slots=True)
class Admission:
    """The limiter's answer for one request."""

    wait: int
    """0: serve it; else whole seconds until the address may be served again."""
    reserved: bool
    """A unit of the allowance was set aside for this request."""


class RefusalLimiter:
    """A token bucket per address: `per_minute` refusals at once, refilled at
    `per_minute` a minute. `clock` gives seconds (monotonic).

    An address never refused (or whose allowance is whole again) is not tracked, and
    its requests are let in freely. Once an address is tracked, each of its requests
    reserves a unit when let in, given back if it was not refused: requests already
    in flight cannot outrun the allowance by arriving together."""

    def __init__(self, per_minute: int, clock: Callable[[], float]) -> None:
        self.capacity = float(per_minute)
        self.per_second = per_minute / 60.0
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        """address -> (units left, when counted)"""

    @property
    def tracked(self) -> int:
        """How many addresses are remembered."""
        return len(self._buckets)

    def admit(self, address: str) -> Admission:
        """Whether a request from `address` may be served now (reserving a unit for it
        if the address is tracked), or how many seconds until it may."""
        now = self.clock()
        if address not in self._buckets:
            return Admission(wait=0, reserved=False)
        left = self._left(address, now)
        if left >= self.capacity:
            del self._buckets[address]
            return Admission(wait=0, reserved=False)
        if left < 1:
            return Admission(wait=math.ceil((1 - left) / self.per_second), reserved=False)
        self._buckets[address] = (left - 1, now)
        return Admission(wait=0, reserved=True)

    def settle(self, address: str, admission: Admission, *, refused: bool) -> None:
        """The request let in by `admission` was answered: a refusal uses its unit (the
        one reserved, or a new one), any other answer gives the reserved unit back."""
        if admission.reserved == refused:
            return  # used as reserved, or neither reserved nor refused
        now = self.clock()
        change = 1.0 if admission.reserved else -1.0
        left = min(max(self._left(address, now) + change, 0.0), self.capacity)
        self._buckets.pop(address, None)  # re-inserted last: the dict stays oldest-first
        self._buckets[address] = (left, now)
        if len(self._buckets) > MAX_TRACKED:
            self._forget(now)

    def _left(self, address: str, now: float) -> float:
        entry = self._buckets.get(address)
        if entry is None:
            return self.capacity
        left, at = entry
        return min(self.capacity, left + (now - at) * self.per_second)

    def _forget(self, now: float) -> None:
        """Drop addresses whose allowance is whole again, then the oldest, down to three
        quarters of `MAX_TRACKED` (so this runs once per many new addresses)."""
        full = [a for a in self._buckets if self._left(a, now) >= self.capacity]
        for address in full:
            del self._buckets[address]
        excess = len(self._buckets) - MAX_TRACKED * 3 // 4
        for address in list(self._buckets)[: max(excess, 0)]:
            del self._buckets[address]


def client_address(
    peer: str | None, forwarded: Sequence[str], trusted: tuple[IPNetwork, ...]
) -> str:
    """The client's address as the limiter counts it (IPv6 by /64)."""
    address = client_ip(peer, forwarded, trusted)
    if address is None:
        return peer or "unknown"
    return _key(address)


def client_ip(
    peer: str | None, forwarded: Sequence[str], trusted: tuple[IPNetwork, ...]
) -> IPAddress | None:
    """The client's address. X-Forwarded-For is read only when the peer is a trusted
    proxy, from the right (what the nearest proxy added), skipping further trusted
    proxies; anything unreadable there stops the walk."""
    address = _ip(peer)
    if address is None:
        return None
    hops = [hop.strip() for header in forwarded for hop in header.split(",")]
    while hops and within(address, trusted):
        hop = _ip(hops.pop())
        if hop is None:
            break
        address = hop
    return address


def _ip(text: str | None) -> IPAddress | None:
    if not text:
        return None
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def within(address: IPAddress, networks: tuple[IPNetwork, ...]) -> bool:
    """Whether `address` (an IPv4-mapped IPv6 one as IPv4) is in one of `networks`."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address.version == n.version and address in n for n in networks)


def _key(address: IPAddress) -> str:
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)

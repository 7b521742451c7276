"""Inbound rate limit per user: a token bucket, refilled continuously."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from datetime import datetime
from typing import Final

_MAX_TRACKED: Final = 100_000


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: datetime


class RateLimiter:
    """Allows `per_minute` messages a minute per key, with bursts up to the same number."""

    def __init__(self, per_minute: int) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self._buckets: dict[Hashable, _Bucket] = {}

    def allow(self, key: Hashable, now: datetime) -> bool:
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= _MAX_TRACKED:
                self._forget_full(now)
            bucket = self._buckets[key] = _Bucket(self.capacity, now)
        elapsed = max((now - bucket.updated).total_seconds(), 0.0)
        bucket.tokens = min(self.capacity, bucket.tokens + elapsed * self.rate)
        bucket.updated = now
        if bucket.tokens < 1:
            return False
        bucket.tokens -= 1
        return True

    def _forget_full(self, now: datetime) -> None:
        """Drop buckets that have refilled: they carry no information."""
        refill = self.capacity / self.rate
        self._buckets = {
            key: bucket
            for key, bucket in self._buckets.items()
            if (now - bucket.updated).total_seconds() < refill
        }

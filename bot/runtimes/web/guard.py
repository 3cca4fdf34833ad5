"""The web channel's guards: rate limits per address and per chat, and what an upload may be."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

# What a person may upload: pictures, recognised by their first bytes, not by their name.
IMAGE_MAGIC = {
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/webp": (b"RIFF",),
}


def image_type(data: bytes) -> str | None:
    """The picture's type by its content, or None if it is not a JPEG, PNG or WebP."""
    for mime, prefixes in IMAGE_MAGIC.items():
        if any(data.startswith(prefix) for prefix in prefixes):
            if mime == "image/webp" and data[8:12] != b"WEBP":
                continue
            return mime
    return None


@dataclass
class _Bucket:
    tokens: float
    at: float


@dataclass
class RateLimit:
    """Token buckets by key: `rate` requests a second, saving up to `burst`."""

    rate: float
    burst: int
    clock: Callable[[], float] = time.monotonic
    _buckets: dict[str, _Bucket] = field(default_factory=dict)
    _swept: float = 0.0

    def allow(self, key: str) -> bool:
        """Take one request from the key's bucket; false when it is empty."""
        now = self.clock()
        self._sweep(now)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(float(self.burst), now)
        bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.at) * self.rate)
        bucket.at = now
        if bucket.tokens < 1.0:
            return False
        bucket.tokens -= 1.0
        return True

    def _sweep(self, now: float) -> None:
        # Full buckets hold nothing worth keeping: drop them now and then, so memory stays
        # bounded by the keys active in the last minute.
        if now - self._swept < 60.0:
            return
        self._swept = now
        refill = self.burst / self.rate
        for key in [k for k, b in self._buckets.items() if now - b.at > refill]:
            del self._buckets[key]

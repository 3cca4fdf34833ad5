"""The web channel's guards: rate limits per address and per chat, and what an upload may be."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

# What a person may upload: pictures and sound recordings, recognised by their first bytes,
# not by their name.
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


def audio_type(data: bytes) -> str | None:
    """A sound recording's type by its content (what phones' recorders and messengers save:
    OGG/Opus, MP3, M4A, AMR, WAV, WebM), or None for anything else."""
    head = data[:16]
    if head.startswith(b"OggS"):
        return "audio/ogg"
    if head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE6 == 0xE2):
        return "audio/mpeg"  # an ID3 tag, or an MPEG audio layer III frame
    if head[4:8] == b"ftyp" and head[8:11] in (b"M4A", b"mp4", b"iso", b"3gp"):
        return "audio/mp4"
    if head.startswith(b"#!AMR"):
        return "audio/amr"
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return "audio/wav"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "audio/webm"
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

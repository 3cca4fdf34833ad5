"""Figures split by the channel people use, as staff read them: a broadcast's progress and
final report, /notices, /stats and the digest ("送达 5（Telegram 3 · 网页 2）")."""

from __future__ import annotations

from collections.abc import Mapping

from handlers.actions import Lines, Msg, Param
from handlers.labels import CHANNEL_LABELS
from models.broadcasts import DeliveryStatus, Figures

SEPARATOR = " · "


def split(by_channel: Mapping[str, int]) -> Lines:
    """Each channel with a count, by name: "Telegram 3 · 网页 2" (channels of none left out)."""
    return Lines(
        tuple(
            Msg("channel.count", channel=Msg(CHANNEL_LABELS[channel]), count=count)
            for channel, count in by_channel.items()
            if count
        ),
        sep=SEPARATOR,
    )


def figure(total: int, by_channel: Mapping[str, int]) -> Param:
    """A count with its split by channel, "5（Telegram 3 · 网页 2）"; none is plain 0."""
    if not total:
        return total
    return Msg("channel.figure", count=total, split=split(by_channel))


def delivered(figures: Figures, status: DeliveryStatus) -> Param:
    """The deliveries of a status, split by channel."""
    return figure(figures[status], figures.by_channel(status))

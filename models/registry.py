"""Imports every model module so that Base.metadata describes the whole schema."""

from models import (
    broadcasts,
    checkins,
    conversations,
    events,
    invites,
    leases,
    organisation,
    people,
)

__all__ = [
    "broadcasts",
    "checkins",
    "conversations",
    "events",
    "invites",
    "leases",
    "organisation",
    "people",
]

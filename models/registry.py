"""Imports every model module so that Base.metadata describes the whole schema."""

from models import (
    audit,
    broadcasts,
    checkins,
    conversations,
    events,
    invites,
    leases,
    nominations,
    organisation,
    people,
    reports,
    requests,
    web,
)

__all__ = [
    "audit",
    "broadcasts",
    "checkins",
    "conversations",
    "events",
    "invites",
    "leases",
    "nominations",
    "organisation",
    "people",
    "reports",
    "requests",
    "web",
]

"""Imports every model module so that Base.metadata describes the whole schema."""

from models import checkins, conversations, invites, organisation, people

__all__ = ["checkins", "conversations", "invites", "organisation", "people"]

"""The consent question every flow asks the same way: the worker's notice, Agree / Decline."""

from __future__ import annotations

from handlers.actions import Button, Inline, Msg, Raw
from handlers.flow import FlowSettings

# Answered "yes" or "no" by the steps that ask (enrolment, role enrolment, consent again).
AGREE_OR_DECLINE = Inline.of(
    [[Button(Msg("enrol.agree"), "yes"), Button(Msg("enrol.decline"), "no")]]
)


def worker_notice(enterprise: Raw | Msg, settings: FlowSettings) -> Msg:
    """What is kept about a worker, why, for how long and who sees it."""
    return Msg("enrol.consent", enterprise=enterprise, retention=settings.retention_until)

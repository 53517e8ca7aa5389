"""Where an invitation stands and its dates, described once for every page that shows them.

The clinician list (Next due), the clinician patient page, and the coordinator Follow-up list
and patient page all describe an invitation with `InvitationDates`, so the same invitation
reads the same everywhere, at the same times, on the patient's clock (e.g. "open until
2026-12-11 09:00 CET"). Stages:

- **upcoming**: not open yet: "opens 2027-03-16 09:00 CET, closes 2027-04-06 09:00 CEST";
- **open**: open now: "open until 2026-12-11 09:00 CET";
- **closed**: the window passed without answers: "closed unanswered on ...";
- **answered**: "answered ...";
- **cancelled**: "cancelled".

An invitation is open from its opening time (included) until its closing time (excluded).
"""

import enum
from dataclasses import dataclass
from datetime import datetime

from survey.date_text import local_datetime
from survey.models import Invitation, InvitationStatus
from survey.translatable import lazy_gettext as _l


class Stage(enum.StrEnum):
    UPCOMING = "upcoming"
    OPEN = "open"
    CLOSED = "closed"
    ANSWERED = "answered"
    CANCELLED = "cancelled"


def stage_of(status: str, opens_at: datetime, closes_at: datetime, now: datetime) -> Stage:
    """The stage of an invitation with this status and window at `now`."""
    if status == InvitationStatus.COMPLETED:
        return Stage.ANSWERED
    if status == InvitationStatus.CANCELLED:
        return Stage.CANCELLED
    if now >= closes_at:
        return Stage.CLOSED
    if now < opens_at:
        return Stage.UPCOMING
    return Stage.OPEN


@dataclass(frozen=True)
class InvitationDates:
    """An invitation's stage and dates, ready to be put in words in the patient's zone."""

    stage: Stage
    opens_at: datetime
    closes_at: datetime
    zone: str
    answered_at: datetime | None = None

    @classmethod
    def of(cls, invitation: Invitation, now: datetime) -> "InvitationDates":
        return cls.from_times(
            invitation.opens_at,
            invitation.expires_at,
            invitation.patient.timezone,
            now,
            status=invitation.status,
            answered_at=invitation.completed_at,
        )

    @classmethod
    def from_times(
        cls,
        opens_at: datetime,
        closes_at: datetime,
        zone: str,
        now: datetime,
        status: str = InvitationStatus.OPEN,
        answered_at: datetime | None = None,
    ) -> "InvitationDates":
        """For pages that read the times without the invitation (the clinician list)."""
        return cls(
            stage_of(status, opens_at, closes_at, now), opens_at, closes_at, zone, answered_at
        )

    def describe(self) -> str:
        """The stage and its dates in words, in the reader's language, e.g. "open until
        Dec 11, 2026, 9:00 AM CET"."""
        # Each time written only when the text shows it: writing one is most of the cost of
        # a list row (the clinician list describes a next due date on every row).
        if self.stage == Stage.UPCOMING:
            opens, closes = (local_datetime(t, self.zone) for t in (self.opens_at, self.closes_at))
            return str(_l("opens %(opens)s, closes %(closes)s", opens=opens, closes=closes))
        if self.stage == Stage.OPEN:
            return str(_l("open until %(time)s", time=local_datetime(self.closes_at, self.zone)))
        if self.stage == Stage.CLOSED:
            closes = local_datetime(self.closes_at, self.zone)
            return str(_l("closed unanswered on %(time)s", time=closes))
        if self.stage == Stage.ANSWERED and self.answered_at is not None:
            return str(_l("answered %(time)s", time=local_datetime(self.answered_at, self.zone)))
        if self.stage == Stage.ANSWERED:
            return str(_l("answered"))
        return str(_l("cancelled"))


def describe(invitation: Invitation, now: datetime) -> str:
    """`InvitationDates.of(invitation, now).describe()`: the words every page uses."""
    return InvitationDates.of(invitation, now).describe()

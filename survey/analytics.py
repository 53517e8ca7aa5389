"""Completion analytics: how invitations fare, per site a member of staff may see.

Every figure is one aggregate query (GROUP BY) over a per-invitation "facts" subquery, so the
work stays in the database however many patients there are. Definitions (docs/administration.md):

- an invitation counts once its window has opened and unless it was cancelled;
- texted: at least one of its texts was handed to the SMS provider;
- opened: the patient opened its link while it was open (`started_at`);
- completed: answered; expired: its window closed unanswered; still open: neither yet;
- completion rate: completed / (completed + expired), the invitations whose outcome is known,
  so invitations still open do not pull a rate down;
- channel: "text" when a text was sent, else "no text" (a link given in clinic);
- mode: how the answers were given (web, tablet, paper, phone: the responses' `mode`); for an
  invitation not answered, "tablet" once a clinic tablet opened it with a coordinator's code,
  else "web" (its link). Paper and phone answers exist only once entered, so those groups
  have no expired invitations: what they show is how many completions came that way;
- month: the UTC month its window opened;
- time to complete: from the first text handed to the provider to the answers;
- reminders needed: reminders sent before the answers came.

A new breakdown is one more column in `facts` and one entry in DIMENSIONS.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, case, func, literal, select
from sqlalchemy.orm import Session

from survey.models import (
    Invitation,
    InvitationStatus,
    Message,
    MessageKind,
    Patient,
    Response,
    ResponseMode,
    TabletHandoff,
    utcnow,
)

DIMENSIONS = ("timepoint", "language", "channel", "mode", "month")
# Breakdowns shown in a fixed order rather than by their key's spelling.
ORDER = {"mode": [mode.value for mode in ResponseMode]}
TEXT, NO_TEXT = "text", "no text"
REMINDER_CAP = 3  # "3 or more"


@dataclass(frozen=True)
class Tally:
    """The outcome counts of a group of invitations."""

    key: str
    invitations: int
    texted: int
    opened: int
    completed: int
    expired: int

    @property
    def still_open(self) -> int:
        return self.invitations - self.completed - self.expired

    @property
    def rate(self) -> float | None:
        """Completed among those whose outcome is known, 0 to 1; None when none is known."""
        known = self.completed + self.expired
        return self.completed / known if known else None


@dataclass(frozen=True)
class Figures:
    totals: Tally
    breakdowns: dict[str, list[Tally]]  # DIMENSIONS -> one tally per group
    median_hours_to_complete: float | None
    completions_timed: int  # how many completions the median is taken over
    reminders_needed: list[tuple[str, int]]  # ("0", n), ("1", n), ("2", n), ("3+", n)
    patients_missing_two: int  # patients with two or more expired timepoints


def _month(db: Session, column):
    if db.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM")
    return func.strftime("%Y-%m", column)


def facts(db: Session, site_ids: list[int], now: datetime):
    """One row per counted invitation of the sites, with what the figures group and count."""
    sent = Message.sent_at.is_not(None)
    texts = (
        select(
            Message.invitation_id.label("invitation_id"),
            func.min(Message.sent_at).label("first_sent"),
            func.sum(
                case(
                    (
                        and_(
                            Message.kind == MessageKind.REMINDER,
                            sent,
                            Message.sent_at < Invitation.completed_at,
                        ),
                        1,
                    ),
                    else_=0,
                )
            ).label("reminders_before"),
        )
        .join(Invitation, Invitation.id == Message.invitation_id)
        .join(Patient, Patient.id == Invitation.patient_id)
        .where(sent, Patient.site_id.in_(site_ids))
        .group_by(Message.invitation_id)
        .subquery("texts")
    )
    # How each answered invitation was answered (its responses share one mode), and which
    # invitations a clinic tablet opened: each grouped once per invitation, not per row.
    answered = (
        select(Response.invitation_id.label("invitation_id"), func.min(Response.mode).label("mode"))
        .join(Patient, Patient.id == Response.patient_id)
        .where(Patient.site_id.in_(site_ids))
        .group_by(Response.invitation_id)
        .subquery("answered")
    )
    on_tablet = (
        select(TabletHandoff.invitation_id.label("invitation_id"))
        .join(Invitation, Invitation.id == TabletHandoff.invitation_id)
        .join(Patient, Patient.id == Invitation.patient_id)
        .where(TabletHandoff.used_at.is_not(None), Patient.site_id.in_(site_ids))
        .group_by(TabletHandoff.invitation_id)
        .subquery("on_tablet")
    )
    mode = case(
        (answered.c.mode.is_not(None), answered.c.mode),
        (on_tablet.c.invitation_id.is_not(None), literal(ResponseMode.TABLET.value)),
        else_=literal(ResponseMode.WEB.value),
    )
    completed = Invitation.status == InvitationStatus.COMPLETED
    expired = and_(Invitation.status == InvitationStatus.OPEN, Invitation.expires_at <= now)
    return (
        select(
            Invitation.id.label("invitation_id"),
            Invitation.patient_id.label("patient_id"),
            Invitation.timepoint.label("timepoint"),
            Patient.language.label("language"),
            case((texts.c.first_sent.is_not(None), literal(TEXT)), else_=literal(NO_TEXT)).label(
                "channel"
            ),
            mode.label("mode"),
            _month(db, Invitation.opens_at).label("month"),
            case((texts.c.first_sent.is_not(None), 1), else_=0).label("texted"),
            case((Invitation.started_at.is_not(None), 1), (completed, 1), else_=0).label("opened"),
            case((completed, 1), else_=0).label("completed"),
            case((expired, 1), else_=0).label("expired"),
            texts.c.first_sent,
            Invitation.completed_at,
            func.coalesce(texts.c.reminders_before, 0).label("reminders_before"),
        )
        .join(Patient, Patient.id == Invitation.patient_id)
        .outerjoin(texts, texts.c.invitation_id == Invitation.id)
        .outerjoin(answered, answered.c.invitation_id == Invitation.id)
        .outerjoin(on_tablet, on_tablet.c.invitation_id == Invitation.id)
        .where(
            Patient.site_id.in_(site_ids),
            Invitation.status != InvitationStatus.CANCELLED,
            Invitation.opens_at <= now,
        )
        .subquery("facts")
    )


def _tally_columns(f):
    return (
        func.count().label("invitations"),
        func.coalesce(func.sum(f.c.texted), 0),
        func.coalesce(func.sum(f.c.opened), 0),
        func.coalesce(func.sum(f.c.completed), 0),
        func.coalesce(func.sum(f.c.expired), 0),
    )


def completion_figures(db: Session, site_ids: list[int], now: datetime | None = None) -> Figures:
    """Every figure of the analytics page for these sites."""
    now = now or utcnow()
    f = facts(db, site_ids, now)
    total = db.execute(select(*_tally_columns(f))).one()
    breakdowns = {}
    for dimension in DIMENSIONS:
        key = f.c[dimension]
        rows = db.execute(select(key, *_tally_columns(f)).group_by(key).order_by(key)).all()
        tallies = [Tally(str(row[0]), *map(int, row[1:])) for row in rows]
        if dimension in ORDER:
            known = ORDER[dimension]
            tallies.sort(key=lambda t: known.index(t.key) if t.key in known else len(known))
        breakdowns[dimension] = tallies
    median, timed = _median_hours(db, f)
    reminders = dict(
        db.execute(
            select(f.c.reminders_before, func.count())
            .where(f.c.completed == 1)
            .group_by(f.c.reminders_before)
        ).all()
    )
    needed = [(str(n), int(reminders.get(n, 0))) for n in range(REMINDER_CAP)]
    needed.append(
        (
            f"{REMINDER_CAP}+",
            sum(int(count) for n, count in reminders.items() if n >= REMINDER_CAP),
        )
    )
    missing = (
        select(f.c.patient_id)
        .where(f.c.expired == 1)
        .group_by(f.c.patient_id)
        .having(func.count() >= 2)
        .subquery()
    )
    return Figures(
        totals=Tally("all", *map(int, total)),
        breakdowns=breakdowns,
        median_hours_to_complete=median,
        completions_timed=timed,
        reminders_needed=needed,
        patients_missing_two=int(db.scalar(select(func.count()).select_from(missing))),
    )


def _median_hours(db: Session, f) -> tuple[float | None, int]:
    timed = and_(f.c.completed == 1, f.c.first_sent.is_not(None), f.c.completed_at.is_not(None))
    if db.get_bind().dialect.name == "postgresql":
        seconds = func.extract("epoch", f.c.completed_at - f.c.first_sent)
        median, count = db.execute(
            select(func.percentile_cont(0.5).within_group(seconds), func.count()).where(timed)
        ).one()
        return (float(median) / 3600 if median is not None else None), int(count)
    # SQLite has no percentile: the durations come back (in days) and the median is taken here.
    days = func.julianday(f.c.completed_at) - func.julianday(f.c.first_sent)
    durations = list(db.scalars(select(days).where(timed)))
    if not durations:
        return None, 0
    return statistics.median(durations) * 24, len(durations)

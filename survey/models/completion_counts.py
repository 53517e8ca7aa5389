"""What the completion analytics read instead of every invitation: counts per site, day and
group (`CompletionCount`) and how long each timed completion took (`AnswerDuration`), both
kept by `survey.domain.completion_counts` in the transaction that changes an invitation."""

from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from survey.models.base import Base


class CompletionCount(Base):
    """How many of a site's invitations fall in one group (`figure` is the breakdown, e.g.
    "language", `key` its group, e.g. "es"; "all" has the key ""), per UTC day their window
    opened (`opens_on`) and closed (`closes_on`), and how many of them were texted, opened and
    completed. Whether an invitation counts (its window has opened) and whether it expired
    (closed unanswered) depend on the clock: the days say it for every day but today's, whose
    invitations the figures read one by one."""

    __tablename__ = "completion_counts"

    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), primary_key=True)
    figure: Mapped[str] = mapped_column(String(16), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    opens_on: Mapped[date] = mapped_column(primary_key=True)
    closes_on: Mapped[date] = mapped_column(primary_key=True)
    invitations: Mapped[int] = mapped_column(default=0)
    texted: Mapped[int] = mapped_column(default=0)
    opened: Mapped[int] = mapped_column(default=0)
    completed: Mapped[int] = mapped_column(default=0)


class AnswerDuration(Base):
    """One completed invitation's time from its first text to its answers, with its site and
    opening, so the median is read in order from an index rather than sorted every time."""

    __tablename__ = "answer_durations"

    invitation_id: Mapped[int] = mapped_column(
        ForeignKey("invitations.id", ondelete="CASCADE"), primary_key=True
    )
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    seconds: Mapped[float]
    opens_at: Mapped[datetime]


Index(
    "ix_answer_durations_site_seconds",
    AnswerDuration.site_id,
    AnswerDuration.seconds,
    AnswerDuration.opens_at,
)

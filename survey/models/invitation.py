"""Invitations to answer, the private links that open them, and the answers given."""

import enum
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from survey.models.base import Base, utcnow
from survey.models.patient import Patient
from survey.models.sites_and_staff import User


class ResponseMode(enum.StrEnum):
    """How a response reached the service: typed by the patient on their own phone (web) or
    on a clinic tablet, or given on paper or by phone and entered by a member of staff."""

    WEB = "web"
    TABLET = "tablet"
    PAPER = "paper"
    PHONE = "phone"


class InvitationStatus(enum.StrEnum):
    OPEN = "open"  # waiting for answers (until it expires)
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class Invitation(Base):
    """One patient's questionnaires for one timepoint, answerable within a window."""

    __tablename__ = "invitations"
    __table_args__ = (
        # The completion analytics read the invitations that open or close today one by one.
        Index("ix_invitations_opens_at", "opens_at"),
        Index("ix_invitations_expires_at", "expires_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    timepoint: Mapped[str] = mapped_column(String(64))  # "baseline", "3 months", ...
    # The schedule timepoint it was made for, so a new index date can move it (None: by hand).
    timepoint_id: Mapped[int | None] = mapped_column(ForeignKey("timepoints.id"))
    # The episode of care it belongs to (None only for rows written outside the application,
    # read as the patient's first episode).
    episode_id: Mapped[int | None] = mapped_column(ForeignKey("episodes.id"), index=True)
    instrument_ids: Mapped[list[str]] = mapped_column(JSON)  # answered in this order
    opens_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    status: Mapped[InvitationStatus] = mapped_column(String(16), default=InvitationStatus.OPEN)
    # The language the patient picked on the survey pages, remembered for this invitation.
    language: Mapped[str | None] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    # What the completion analytics count, kept as it happens (`survey.domain.analytics`, after
    # every flush that sends a text, stores a response, uses a tablet code or completes it):
    # when its first text was handed to the provider, how many reminders went before its
    # answers, and how it was answered (for one not answered: "tablet" once a clinic tablet
    # opened it, else "web").
    first_text_at: Mapped[datetime | None]
    reminders_before: Mapped[int] = mapped_column(default=0, server_default="0")
    answer_mode: Mapped[str] = mapped_column(
        String(8), default=ResponseMode.WEB.value, server_default=ResponseMode.WEB.value
    )
    # What `completion_counts` holds for it (`survey.domain.completion_counts.Counted`, as a
    # list; NULL: nothing, as for a cancelled one): what a change takes back from the counts.
    counted_as: Mapped[list | None] = mapped_column(JSON)

    patient: Mapped[Patient] = relationship(back_populates="invitations")
    episode: Mapped["Episode | None"] = relationship()  # noqa: F821
    links: Mapped[list["InvitationLink"]] = relationship(back_populates="invitation")
    draft_answers: Mapped[list["DraftAnswer"]] = relationship(
        back_populates="invitation", cascade="all, delete-orphan"
    )
    responses: Mapped[list["Response"]] = relationship(back_populates="invitation")

    def is_expired(self, now: datetime) -> bool:
        return now >= self.expires_at

    def __repr__(self) -> str:
        return f"<Invitation {self.id} {self.timepoint!r} {self.status}>"


class InvitationLink(Base):
    """A private link to an invitation. Only the token's hash is kept: the token itself lives
    in the SMS that carried it. Each message mints its own link, so a reminder never breaks
    the link in an earlier message."""

    __tablename__ = "invitation_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    invitation_id: Mapped[int] = mapped_column(
        ForeignKey("invitations.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]

    invitation: Mapped[Invitation] = relationship(back_populates="links")


class TabletHandoff(Base):
    """A short code a coordinator makes so that a clinic tablet opens one patient's invitation
    without any staff session on the tablet. Only the code's hash is kept; it works once,
    within minutes of being made."""

    __tablename__ = "tablet_handoffs"

    id: Mapped[int] = mapped_column(primary_key=True)
    invitation_id: Mapped[int] = mapped_column(
        ForeignKey("invitations.id", ondelete="CASCADE"), index=True
    )
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    used_at: Mapped[datetime | None]

    invitation: Mapped[Invitation] = relationship()


class DraftAnswer(Base):
    """An answer saved as the patient goes, so a closed page resumes where it stopped."""

    __tablename__ = "draft_answers"

    invitation_id: Mapped[int] = mapped_column(
        ForeignKey("invitations.id", ondelete="CASCADE"), primary_key=True
    )
    instrument_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    item_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    invitation: Mapped[Invitation] = relationship(back_populates="draft_answers")


class Response(Base):
    """A completed questionnaire: the answers and their scores, never changed once stored.

    It records exactly which instrument version and wording the patient saw."""

    __tablename__ = "responses"
    __table_args__ = (
        # One response per instrument per invitation: a double submit cannot store a second.
        UniqueConstraint("invitation_id", "instrument_id"),
        # The clinic list reads the latest and the baseline response per patient and
        # instrument: one short index range scan each.
        Index(
            "ix_responses_patient_instrument_submitted",
            "patient_id",
            "instrument_id",
            "submitted_at",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    invitation_id: Mapped[int] = mapped_column(ForeignKey("invitations.id"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    instrument_id: Mapped[str] = mapped_column(String(32))
    instrument_version: Mapped[str] = mapped_column(String(32))
    # The wording's own version (an imported wording's, else the instrument's) and the
    # SHA-256 of its texts; the texts themselves are kept in `shown_wordings` by this hash.
    wording_version: Mapped[str] = mapped_column(String(64))
    wording_hash: Mapped[str] = mapped_column(String(64))
    wording_status: Mapped[str] = mapped_column(String(32))
    language: Mapped[str] = mapped_column(String(8))
    total: Mapped[int]
    band: Mapped[str | None] = mapped_column(String(32))
    subscales: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)
    # How the answers were given, and the member of staff who entered them (None: the
    # patient themself, on their phone or a clinic tablet).
    mode: Mapped[ResponseMode] = mapped_column(
        String(8), default=ResponseMode.WEB, server_default=ResponseMode.WEB.value
    )
    entered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    invitation: Mapped[Invitation] = relationship(back_populates="responses")
    patient: Mapped[Patient] = relationship()
    entered_by: Mapped[User | None] = relationship()
    answers: Mapped[list["Answer"]] = relationship(
        back_populates="response", cascade="all", order_by="Answer.position"
    )

    def __repr__(self) -> str:
        return f"<Response {self.instrument_id} total={self.total}>"


class Answer(Base):
    """One item's answer within a stored response."""

    __tablename__ = "answers"

    response_id: Mapped[int] = mapped_column(
        ForeignKey("responses.id", ondelete="CASCADE"), primary_key=True
    )
    item_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    position: Mapped[int]  # the item's place in the instrument, for display in order
    value: Mapped[int]

    response: Mapped[Response] = relationship(back_populates="answers")

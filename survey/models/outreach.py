"""Outreach: follow-up schedules, the text messages they cause, and what the SMS provider said.

A message row is the outbox entry for one SMS. It never holds the text or the link: the
dispatcher mints the link and renders the text at the moment it sends, so the database never
contains a working link."""

import enum
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from survey.models.base import Base, utcnow
from survey.models.invitation import Invitation
from survey.models.patient import Patient
from survey.models.sites_and_staff import Site, User


class Schedule(Base):
    """A named follow-up plan: timepoints counted from the patient's index date."""

    __tablename__ = "schedules"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    description: Mapped[str] = mapped_column(String(300), default="")
    # A retired schedule is kept for the patients who follow it but offered to no one new.
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    timepoints: Mapped[list["Timepoint"]] = relationship(
        back_populates="schedule", order_by="Timepoint.position", cascade="all, delete-orphan"
    )

    def __repr__(self) -> str:
        return f"<Schedule {self.name!r}>"


class Timepoint(Base):
    """One point of a schedule: when it opens, for how long, what is asked, when to remind."""

    __tablename__ = "timepoints"
    __table_args__ = (UniqueConstraint("schedule_id", "label"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    schedule_id: Mapped[int] = mapped_column(ForeignKey("schedules.id", ondelete="CASCADE"))
    position: Mapped[int]
    label: Mapped[str] = mapped_column(String(64))  # "baseline", "3 months", ...
    offset_days: Mapped[int]  # from the index date; negative = before it
    window_days: Mapped[int]
    # Days after the invitation is sent; each reminder carries a fresh link.
    reminder_days: Mapped[list[int]] = mapped_column(JSON, default=list)
    instrument_ids: Mapped[list[str]] = mapped_column(JSON)

    schedule: Mapped[Schedule] = relationship(back_populates="timepoints")

    def __repr__(self) -> str:
        return f"<Timepoint {self.label!r} day {self.offset_days}>"


class MessageKind(enum.StrEnum):
    INVITATION = "invitation"
    REMINDER = "reminder"


class MessageStatus(enum.StrEnum):
    PENDING = "pending"  # waiting for its due time (held while paused or opted out)
    SENDING = "sending"  # claimed by a dispatcher, which is calling the provider
    QUEUED = "queued"  # accepted by the provider
    SENT = "sent"  # handed to the mobile network
    DELIVERED = "delivered"  # the phone confirmed it
    UNDELIVERED = "undelivered"  # the network could not deliver it
    FAILED = "failed"  # refused, or given up on
    REVIEW = "review"  # outcome unknown: never resent without a person deciding
    CANCELLED = "cancelled"  # not needed any more (answered, expired, withdrawn, ...)


class Message(Base):
    """One SMS to a patient: an invitation to a timepoint, or a reminder of it."""

    __tablename__ = "messages"
    # The dispatcher's claim order (status = pending, ORDER BY due_at, id): see migration
    # d5e2b7c81f04.
    __table_args__ = (Index("ix_messages_status_due_at_id", "status", "due_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    invitation_id: Mapped[int] = mapped_column(ForeignKey("invitations.id"), index=True)
    kind: Mapped[MessageKind] = mapped_column(String(16))
    status: Mapped[MessageStatus] = mapped_column(String(16), default=MessageStatus.PENDING)
    due_at: Mapped[datetime]
    # Why a due message is waiting: quiet hours, a message limit, its invitation not yet sent.
    wait_reason: Mapped[str | None] = mapped_column(String(32))
    attempts: Mapped[int] = mapped_column(default=0)
    claimed_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]  # handed to the provider (counts towards the limits)
    finished_at: Mapped[datetime | None]  # reached a final status
    language: Mapped[str | None] = mapped_column(String(8))  # the language it was sent in
    # The number it was sent to (E.164), kept when the patient's number changes: the limits
    # count per number, and a reply is matched to the patient the number last heard from.
    phone: Mapped[str | None] = mapped_column(String(32), index=True)
    provider_sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    provider_status: Mapped[str | None] = mapped_column(String(32))
    segments: Mapped[int | None]
    error_code: Mapped[int | None]
    # A short machine word: why it was cancelled, failed or needs review ("completed", ...).
    reason: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # A coordinator dealt with a failed or unknown message (retried or dismissed it).
    resolved_at: Mapped[datetime | None]
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    resolution: Mapped[str | None] = mapped_column(String(16))
    retry_of_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))

    patient: Mapped[Patient] = relationship()
    invitation: Mapped[Invitation] = relationship()
    events: Mapped[list["MessageEvent"]] = relationship(
        back_populates="message", order_by="MessageEvent.id", cascade="all, delete-orphan"
    )

    def __repr__(self) -> str:
        return f"<Message {self.id} {self.kind} {self.status}>"


class MessageEvent(Base):
    """One step in a message's life, as the dispatcher, the provider or a coordinator saw it."""

    __tablename__ = "message_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), index=True
    )
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(16))  # dispatcher, provider, staff
    error_code: Mapped[int | None]
    reason: Mapped[str | None] = mapped_column(String(64))

    message: Mapped[Message] = relationship(back_populates="events")


# Receipts of patients' texts start with this and are kept for good, so a captured STOP or
# START posted again, however late, changes nothing.
INBOUND_RECEIPT = "inbound:"


class WebhookReceipt(Base):
    """A provider callback already processed: a retried callback finds its key and does nothing."""

    __tablename__ = "webhook_receipts"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(160), unique=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class SmsSender(Base):
    """The name a site's text messages start with, when its full name would say too much
    (a "Colorectal Unit" tells whoever reads the phone what the patient is treated for)."""

    __tablename__ = "sms_senders"

    site_id: Mapped[int] = mapped_column(
        ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(40))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    site: Mapped[Site] = relationship()


class ChannelAlarm(Base):
    """The SMS provider refused a site's account or sender (not one message): sending for the
    site's channel is paused until an administrator resumes it. Messages wait meanwhile."""

    __tablename__ = "channel_alarms"

    site_id: Mapped[int] = mapped_column(
        ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True
    )
    channel: Mapped[str] = mapped_column(String(16), primary_key=True, default="sms")
    error_code: Mapped[int | None]
    reason: Mapped[str] = mapped_column(String(64))
    raised_at: Mapped[datetime] = mapped_column(default=utcnow)

    site: Mapped[Site] = relationship()


class Reply(Base):
    """A patient's free-text reply that needs a person (not STOP, START or HELP).

    Its text is health data, protected as answers are: shown only to staff of the patient's
    site, each view audited, never logged."""

    __tablename__ = "sms_replies"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    body: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    handled_at: Mapped[datetime | None]
    handled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    patient: Mapped[Patient] = relationship()
    handled_by: Mapped[User | None] = relationship()


# Patients' replies are matched by number.
Index("ix_patients_phone", Patient.phone)

__all__ = [
    "ChannelAlarm",
    "Reply",
    "Message",
    "MessageEvent",
    "MessageKind",
    "MessageStatus",
    "Schedule",
    "SmsSender",
    "Timepoint",
    "WebhookReceipt",
]

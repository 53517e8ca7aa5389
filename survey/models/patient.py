"""Patients followed by a site."""

import enum
from datetime import date, datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from survey.models.base import Base, utcnow
from survey.models.sites_and_staff import Site


class PatientStatus(enum.StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"  # no messages for now; the schedule is kept
    WITHDRAWN = "withdrawn"  # left the follow-up; nothing more is sent


class Patient(Base):
    """A person followed after treatment, known to staff by the site's own reference."""

    __tablename__ = "patients"
    __table_args__ = (UniqueConstraint("site_id", "reference"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    # The site's study or medical record reference; never shown to the patient or sent by SMS.
    reference: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str | None] = mapped_column(String(16))  # E.164
    language: Mapped[str] = mapped_column(String(8))
    # How texts reach the patient: "sms" (the default) or "whatsapp" (SURVEY_TWILIO_WHATSAPP_FROM).
    channel: Mapped[str] = mapped_column(String(16), default="sms", server_default="sms")
    timezone: Mapped[str] = mapped_column(String(64))
    # The procedure date that timepoints count from, and (below) the schedule: those of the
    # current episode of care (survey/models/episode.py), kept here for every query to read.
    index_date: Mapped[date | None]
    status: Mapped[PatientStatus] = mapped_column(String(16), default=PatientStatus.ACTIVE)
    opted_out_at: Mapped[datetime | None]
    # The follow-up schedule its invitations come from (None: invitations made by hand).
    schedule_id: Mapped[int | None] = mapped_column(ForeignKey("schedules.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    site: Mapped[Site] = relationship()
    schedule: Mapped["Schedule | None"] = relationship()  # noqa: F821
    summary: Mapped["PatientSummary"] = relationship(  # noqa: F821
        cascade="all, delete-orphan", passive_deletes=True
    )
    invitations: Mapped[list["Invitation"]] = relationship(  # noqa: F821
        back_populates="patient", order_by="Invitation.opens_at"
    )
    episodes: Mapped[list["Episode"]] = relationship(  # noqa: F821
        back_populates="patient", order_by="Episode.number", passive_deletes=True
    )

    @property
    def current_episode(self) -> "Episode | None":  # noqa: F821
        """The latest episode of care: the one the index date and schedule belong to."""
        return self.episodes[-1] if self.episodes else None

    @property
    def opted_out(self) -> bool:
        return self.opted_out_at is not None

    def __repr__(self) -> str:
        return f"<Patient {self.reference!r} site={self.site_id}>"

"""Instrument wording: a clinic's licensed imports, and every wording a patient was shown."""

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from survey.models.base import Base, utcnow


class ImportedWording(Base):
    """One import of an instrument's wording. The newest row for an instrument is in use;
    older rows stay, so every stored response's wording hash can still be explained."""

    __tablename__ = "imported_wordings"

    id: Mapped[int] = mapped_column(primary_key=True)
    instrument_id: Mapped[str] = mapped_column(String(32), index=True)
    definition: Mapped[dict] = mapped_column(JSON)
    source_name: Mapped[str] = mapped_column(String(255))
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)
    imported_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class ShownWording(Base):
    """Exactly what patients were shown in one language of one instrument, kept for good.

    Written the first time a response is stored with this wording (same transaction), and
    never changed: staff pages and FHIR read a response's item texts and answer labels from
    here, by its wording hash, so an answer is always shown with the words it was given to,
    whatever wording is in use today. `texts` is `survey.instruments.shown_text()`, the very
    dict whose SHA-256 is `wording_hash`."""

    __tablename__ = "shown_wordings"
    __table_args__ = (UniqueConstraint("instrument_id", "language", "wording_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    instrument_id: Mapped[str] = mapped_column(String(32))
    language: Mapped[str] = mapped_column(String(8))
    wording_hash: Mapped[str] = mapped_column(String(64))
    wording_version: Mapped[str] = mapped_column(String(64))
    wording_status: Mapped[str] = mapped_column(String(32))
    texts: Mapped[dict] = mapped_column(JSON)
    first_used_at: Mapped[datetime] = mapped_column(default=utcnow)

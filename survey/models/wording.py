"""Licensed instrument wording imported by a clinic, shared by every node through the database."""

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String
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

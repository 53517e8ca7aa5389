"""The data model. Every model is importable from here."""

from survey.models.audit import AuditEvent, AuditTrailIsInsertOnly
from survey.models.base import Base, utcnow
from survey.models.completion_counts import AnswerDuration, CompletionCount
from survey.models.episode import Episode
from survey.models.invitation import (
    Answer,
    DraftAnswer,
    Invitation,
    InvitationLink,
    InvitationStatus,
    Response,
    ResponseMode,
    TabletHandoff,
)
from survey.models.outreach import (
    ChannelAlarm,
    Message,
    MessageEvent,
    MessageKind,
    MessageStatus,
    Reply,
    Schedule,
    SmsSender,
    Timepoint,
    WebhookReceipt,
)
from survey.models.patient import Patient, PatientStatus
from survey.models.ratelimit import RateLimitCounter, RateLimitEntry
from survey.models.sites_and_staff import (
    PasswordLink,
    Role,
    Site,
    StaffSession,
    User,
    site_memberships,
    user_by_email,
)
from survey.models.summary import PatientSummary
from survey.models.triage import (
    LEVEL_ORDER,
    ContactRequest,
    TriageItem,
    TriageLevel,
    TriageOutcome,
    TriageSettings,
    TriageStatus,
)
from survey.models.wording_records import ImportedWording, ShownWording

__all__ = [
    "LEVEL_ORDER",
    "Answer",
    "AuditEvent",
    "AnswerDuration",
    "AuditTrailIsInsertOnly",
    "Base",
    "ChannelAlarm",
    "CompletionCount",
    "ContactRequest",
    "DraftAnswer",
    "Episode",
    "ImportedWording",
    "Invitation",
    "InvitationLink",
    "InvitationStatus",
    "Message",
    "MessageEvent",
    "MessageKind",
    "MessageStatus",
    "PasswordLink",
    "Patient",
    "PatientStatus",
    "PatientSummary",
    "RateLimitCounter",
    "RateLimitEntry",
    "Reply",
    "Response",
    "ResponseMode",
    "Role",
    "Schedule",
    "ShownWording",
    "Site",
    "SmsSender",
    "StaffSession",
    "TabletHandoff",
    "Timepoint",
    "TriageItem",
    "TriageLevel",
    "TriageOutcome",
    "TriageSettings",
    "TriageStatus",
    "User",
    "WebhookReceipt",
    "site_memberships",
    "user_by_email",
    "utcnow",
]

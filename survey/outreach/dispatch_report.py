"""What one dispatcher pass did, by outcome: dispatch.py counts the sweeps, claims.py and
send_outcomes.py each message's outcome, and the `outreach dispatch` command prints it."""

from dataclasses import dataclass, fields


@dataclass
class DispatchReport:
    """What one pass did, by outcome."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0
    review: int = 0
    waiting: int = 0
    cancelled: int = 0
    stalled: int = 0

    def __str__(self) -> str:
        return ", ".join(f"{field.name} {getattr(self, field.name)}" for field in fields(self))

    @property
    def attempted(self) -> int:
        return self.sent + self.retrying + self.failed + self.review

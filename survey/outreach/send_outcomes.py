"""A batch's sends through their outcomes (dispatch.py runs the passes, claims.py claims and
sends): each message moves on as the provider answered, in one guarded statement for each
kind of outcome among the batch's (`WHERE id = ... AND attempts = ... AND status IN
('sending', 'review')`), so a status report that came first is never overwritten; a refusal
of the site's account or sender pauses its channel (`alarms`); a number the provider says has
opted out is opted out everywhere.
"""

from collections import defaultdict
from datetime import datetime

from sqlalchemy import bindparam, update
from sqlalchemy.orm import Session

from survey.models import Message, MessageStatus
from survey.outreach.alarms import raise_alarm
from survey.outreach.backends import Outcome, SendResult
from survey.outreach.claims import THIS, Claim
from survey.outreach.consent import record_opt_out
from survey.outreach.dispatch_report import DispatchReport
from survey.outreach.dispatch_settings import DispatchSettings
from survey.outreach.message_status import PROVIDER_REPORTS, Step

CHANNEL_PAUSED = "channel_paused"
# A send's outcome: only a message still in this attempt's `sending` (or `review`) moves; a
# status report that came first has moved it on, and it stays.
THIS_ATTEMPT = THIS & (Message.attempts == bindparam("attempt"))
IN_HAND = (MessageStatus.SENDING, MessageStatus.REVIEW)
OUTCOMES = {
    status: Step(
        status,
        where=THIS_ATTEMPT,
        only_from=IN_HAND,
        values=("provider_sid", "provider_status", "segments"),
    )
    for status in PROVIDER_REPORTS
}
PAUSED = Step(MessageStatus.PENDING, where=THIS_ATTEMPT, only_from=IN_HAND, values=("wait_reason",))
RETRY = Step(MessageStatus.PENDING, where=THIS_ATTEMPT, only_from=IN_HAND, values=("due_at",))
FAILED = Step(MessageStatus.FAILED, where=THIS_ATTEMPT, only_from=IN_HAND)
REVIEW = Step(MessageStatus.REVIEW, where=THIS_ATTEMPT, only_from=IN_HAND)
FILL_SEGMENTS = (
    update(Message).where(THIS, Message.segments.is_(None)).values(segments=bindparam("segments"))
)


def record_results(
    db: Session,
    sent: list[tuple[Claim, SendResult]],
    now: datetime,
    settings: DispatchSettings,
    report: DispatchReport,
    commit: bool = True,
) -> None:
    """Record sends' outcomes, one guarded statement for each kind of outcome among them: only
    a message still in its attempt's `sending` (or `review`) moves. Committed here, or
    (commit=False) with the next batch's claim, which commits before its own sends: one
    durable commit a batch, not two."""
    steps = [_outcome_step(claim, result, now, settings) for claim, result in sent]
    together = defaultdict(list)  # one statement for each step, reason and error code
    for step, reason, code, row in steps:
        together[step, reason, code].append(row)
    moved = set()
    for (step, reason, code), rows in together.items():
        moved.update(step.run_many(db, rows, at=now, reason=reason, error_code=code))
    unfilled, paused = [], {}
    for (claim, result), (step, reason, code, _row) in zip(sent, steps, strict=True):
        went = claim.message_id in moved
        if result.outcome == Outcome.ACCEPTED:
            if not went:  # a status report came first; it may not have said the segments
                unfilled.append({"message_id": claim.message_id, "segments": result.segments})
            report.sent += 1
        elif step is PAUSED:
            # Not this message's fault: it waits, unfailed, until the channel is resumed.
            if went:
                paused.setdefault((claim.sms.site_id, claim.sms.channel), (code, reason))
                report.waiting += 1
        elif step is RETRY:
            report.retrying += went
        elif step is FAILED:
            if went and reason == "opted_out":
                record_opt_out(db, claim.sms.to, now, source="provider")
            report.failed += went
        else:
            report.review += went
    if unfilled:
        db.execute(FILL_SEGMENTS, unfilled)
    for (site_id, channel), (code, reason) in paused.items():
        raise_alarm(db, site_id, error_code=code, reason=reason, now=now, channel=channel)
    if commit:
        db.commit()


def _outcome_step(claim: Claim, result: SendResult, now: datetime, settings: DispatchSettings):
    """The step a send's outcome takes its message through: (step, reason, error code, the
    parameters of its row)."""
    row = {"message_id": claim.message_id, "attempt": claim.attempt}
    outcome, code, why = result.outcome, result.error_code, result.reason
    if outcome == Outcome.ACCEPTED:
        return (
            OUTCOMES[result.status or MessageStatus.QUEUED],
            None,
            None,
            {
                **row,
                "provider_sid": result.provider_sid,
                "provider_status": (result.provider_status or "")[:32] or None,
                "segments": result.segments,
            },
        )
    if outcome == Outcome.CHANNEL:
        return PAUSED, why, code, {**row, "wait_reason": CHANNEL_PAUSED}
    if outcome == Outcome.RETRY and claim.attempt < settings.max_attempts:
        return RETRY, why, code, {**row, "due_at": now + settings.retry_delay(claim.attempt)}
    if outcome in (Outcome.RETRY, Outcome.FAILED):
        return FAILED, why if outcome == Outcome.FAILED else "gave_up", code, row
    return REVIEW, why, None, row

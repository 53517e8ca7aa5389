"""Channel alarms: the SMS provider refused a site's account or sender, not one message.

Every message would fail the same way, so instead of failing them one by one the site's
channel pauses: the alarm is a database row (every web node and dispatcher sees it), the
dispatcher claims nothing of the site while it stands, and the messages that wait are not
failed. An administrator fixes the cause and resumes with one action; the waiting messages
then go at the next pass, each once (they never left the outbox).
"""

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from survey.domain.audit_trail import record
from survey.models import ChannelAlarm, Site, User

logger = logging.getLogger("survey.outreach.alarms")
SMS = "sms"
CHANNELS = (SMS, "whatsapp")


def raise_alarm(
    db: Session,
    site_id: int,
    *,
    error_code: int | None,
    reason: str,
    now: datetime,
    channel: str = SMS,
) -> bool:
    """Pause the site's channel; False if it was paused already."""
    if db.get(ChannelAlarm, (site_id, channel)) is not None:
        return False
    try:
        # A savepoint: two senders refused at once add the same alarm; the first one stays.
        with db.begin_nested():
            db.add(
                ChannelAlarm(
                    site_id=site_id,
                    channel=channel,
                    error_code=error_code,
                    reason=reason,
                    raised_at=now,
                )
            )
    except IntegrityError:
        return False
    record(
        db,
        "channel.paused",
        site_id=site_id,
        detail={"channel": channel, "error_code": error_code, "reason": reason},
    )
    logger.error(
        "%s sending paused for site %s: the provider refused the account or sender (%s, code %s)",
        channel,
        site_id,
        reason,
        error_code,
    )
    return True


def alarms_for(db: Session, site_ids: list[int]) -> list[ChannelAlarm]:
    if not site_ids:
        return []
    return list(
        db.scalars(
            select(ChannelAlarm)
            .where(ChannelAlarm.site_id.in_(site_ids))
            .order_by(ChannelAlarm.raised_at)
        )
    )


def resume(db: Session, site: Site, user: User, now: datetime, channel: str = SMS) -> bool:
    """Lift the site's alarm (the caller commits); False if there was none."""
    alarm = db.get(ChannelAlarm, (site.id, channel), with_for_update=True)
    if alarm is None:
        return False
    record(
        db,
        "channel.resumed",
        user=user,
        site_id=site.id,
        detail={"channel": channel, "error_code": alarm.error_code, "reason": alarm.reason},
    )
    db.delete(alarm)
    return True

"""Episodes of care: a new index date (a definitive repair after a seton, a recurrence)
restarts the clock, and the earlier episode's pending messages are cancelled or kept."""

from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from survey.domain.enrolment import EnrolmentError
from survey.extensions import db
from survey.models import AuditEvent, InvitationStatus, MessageStatus
from survey.outreach import patient_schedule
from survey.outreach.schedule_definitions import ensure_default_schedule
from tests.conftest import csrf_from
from tests.fixtures.outreach import NOW, RULES, messages_of

FIRST = date(2026, 3, 9)  # the seton, a week after NOW
SECOND = date(2026, 6, 1)  # the definitive repair


def start(patient, *, keep_earlier, index_date=SECOND, label="repair", schedule="default"):
    if schedule == "default":
        schedule = ensure_default_schedule(db.session)
    started = patient_schedule.start_episode(
        db.session,
        patient,
        index_date=index_date,
        schedule=schedule,
        label=label,
        keep_earlier=keep_earlier,
        now=NOW,
        rules=RULES,
    )
    db.session.commit()
    return started


def sent_for(invitation):
    return [m for m in messages_of(invitation.patient) if m.invitation_id == invitation.id]


def by_episode(patient):
    db.session.expire_all()
    found = {}
    for invitation in patient.invitations:
        found.setdefault(invitation.episode.number, []).append(invitation)
    return found


def test_every_enrolled_patient_starts_with_one_episode_holding_their_index_date(enrolled):
    patient = enrolled(index_date=FIRST)
    (episode,) = patient.episodes
    assert (episode.number, episode.index_date) == (1, FIRST)
    assert episode.schedule is patient.schedule is not None
    assert len(patient.invitations) == 5
    assert {invitation.episode_id for invitation in patient.invitations} == {episode.id}


def test_a_new_episode_counts_its_timepoints_from_the_new_index_date(enrolled):
    patient = enrolled(index_date=FIRST)
    first_baseline = patient.invitations[0].opens_at
    started = start(patient, keep_earlier=False)
    assert (started.episode.number, started.episode.label) == (2, "repair")
    assert patient.index_date == SECOND and patient.current_episode is started.episode
    groups = by_episode(patient)
    new = {invitation.timepoint: invitation for invitation in groups[2]}
    assert list(new) == ["baseline", "3 weeks", "3 months", "6 months", "12 months"]
    # The same schedule, moved by the days between the two index dates (at the same time on
    # the patient's clock, across the change to summer time).
    zone = ZoneInfo(patient.timezone)
    first_local, new_local = (
        first_baseline.astimezone(zone),
        new["baseline"].opens_at.astimezone(zone),
    )
    assert new_local.date() - first_local.date() == SECOND - FIRST
    assert new_local.time() == first_local.time()
    assert started.changes.created == list(new)
    assert all(m.status == MessageStatus.PENDING for i in groups[2] for m in sent_for(i))


def test_cancelling_the_earlier_episode_cancels_what_has_not_gone(enrolled):
    patient = enrolled(index_date=FIRST)
    earlier = list(patient.invitations)
    started = start(patient, keep_earlier=False)
    assert started.cancelled == [i.timepoint for i in earlier]
    assert started.cancelled_messages == sum(len(sent_for(i)) for i in earlier) > 0
    for invitation in by_episode(patient)[1]:
        assert invitation.status == InvitationStatus.CANCELLED
        assert {(m.status, m.reason) for m in sent_for(invitation)} == {
            (MessageStatus.CANCELLED, "new_episode")
        }


def test_cancelling_reaches_every_earlier_episode_kept_before(enrolled):
    patient = enrolled(index_date=FIRST)
    start(patient, keep_earlier=True)
    started = start(patient, keep_earlier=False, index_date=SECOND + timedelta(days=60))
    groups = by_episode(patient)
    assert started.episode.number == 3 and len(started.cancelled) == 10
    for number in (1, 2):
        assert all(i.status == InvitationStatus.CANCELLED for i in groups[number])
    assert all(i.status == InvitationStatus.OPEN for i in groups[3])


def test_an_earlier_invitation_already_sent_stays_answerable_but_loses_its_reminders(enrolled):
    patient = enrolled(index_date=FIRST)
    baseline = patient.invitations[0]
    invitation_message, *reminders = sorted(sent_for(baseline), key=lambda m: m.due_at)
    invitation_message.attempts = 1  # it went to the provider
    invitation_message.status = MessageStatus.SENT
    db.session.commit()
    started = start(patient, keep_earlier=False)
    assert "baseline" not in started.cancelled
    db.session.expire_all()
    assert baseline.status == InvitationStatus.OPEN
    assert reminders and all(m.status == MessageStatus.CANCELLED for m in reminders)
    assert invitation_message.status == MessageStatus.SENT


def test_keeping_the_earlier_episode_leaves_its_messages_as_planned(enrolled):
    patient = enrolled(index_date=FIRST)
    before = {m.id: (m.status, m.due_at) for m in messages_of(patient)}
    started = start(patient, keep_earlier=True)
    assert (started.cancelled, started.cancelled_messages) == ([], 0)
    groups = by_episode(patient)
    assert len(groups[1]) == len(groups[2]) == 5
    after = {m.id: (m.status, m.due_at) for m in messages_of(patient) if m.id in before}
    assert after == before


def test_editing_the_index_date_afterwards_moves_only_the_current_episode(enrolled):
    patient = enrolled(index_date=FIRST)
    start(patient, keep_earlier=True)
    earlier = {i.id: i.opens_at for i in by_episode(patient)[1]}
    current = {i.id: i.opens_at for i in by_episode(patient)[2]}
    patient_schedule.update_details(
        db.session,
        patient,
        phone=patient.phone,
        language=patient.language,
        timezone=patient.timezone,
        index_date=SECOND + timedelta(days=7),
        schedule=patient.schedule,
        now=NOW,
        rules=RULES,
    )
    db.session.commit()
    groups = by_episode(patient)
    assert {i.id: i.opens_at for i in groups[1]} == earlier
    assert all(i.opens_at - current[i.id] == timedelta(days=7) for i in groups[2])
    assert patient.current_episode.index_date == SECOND + timedelta(days=7)
    assert patient.episodes[0].index_date == FIRST


@pytest.mark.parametrize(
    ("index_date", "label", "problem"),
    [
        (FIRST - timedelta(days=1), None, "cannot be before"),
        (None, None, "needs its index date"),
        (date(1900, 1, 1), None, "must be between"),
        (SECOND, "x" * 61, "at most 60"),
        (SECOND, "Seton\u202e", "not allowed"),
    ],
)
def test_a_new_episode_is_refused_with_a_reason(enrolled, index_date, label, problem):
    patient = enrolled(index_date=FIRST)
    with pytest.raises(EnrolmentError, match=problem):
        start(patient, keep_earlier=True, index_date=index_date, label=label)
    db.session.rollback()
    assert len(patient.episodes) == 1


def test_a_withdrawn_patient_gets_no_new_episode(enrolled):
    patient = enrolled(index_date=FIRST)
    patient_schedule.withdraw(db.session, patient)
    db.session.commit()
    with pytest.raises(EnrolmentError, match="withdrawn"):
        start(patient, keep_earlier=True)


def test_a_free_text_name_is_kept_as_typed(enrolled):
    patient = enrolled(index_date=FIRST)
    started = start(patient, keep_earlier=True, label="  Second   seton ", schedule=None)
    assert started.episode.label == "Second seton"
    assert started.changes.created == []  # no schedule: invitations by hand


@pytest.fixture
def coordinator(client, staff, site, make_user):
    user = make_user("coordinator", [site])
    staff.login(user.email)
    return user


def test_a_coordinator_starts_a_new_episode_after_confirming(client, coordinator, enrolled):
    patient = enrolled(index_date=date.today() + timedelta(days=7))
    page = client.get(f"/clinic/follow-up/patients/{patient.id}")
    assert "Start a new episode" in page.text
    url = f"/clinic/follow-up/patients/{patient.id}/episode"
    form = client.get(url)
    assert form.status_code == 200 and "Messages of the earlier episodes not sent yet" in form.text
    assert 'name="after" value="1"' in form.text
    new_date = date.today() + timedelta(days=60)
    data = {
        "csrf_token": csrf_from(form.text),
        "index_date": str(new_date),
        "schedule_id": str(patient.schedule_id),
        "label": "other",
        "other_label": "Fistulotomy",
        "earlier": "cancel",
        "after": "1",
    }
    # Without a choice for the earlier messages, the form asks for one.
    missing = client.post(url, data={k: v for k, v in data.items() if k != "earlier"})
    assert "Choose whether to cancel or keep them." in missing.text
    confirm = client.post(url, data=data)
    assert confirm.status_code == 200 and "Check and confirm" in confirm.text
    assert "Fistulotomy" in confirm.text
    db.session.expire_all()
    assert len(patient.episodes) == 1  # nothing changes before the confirmation
    assert 'name="after" value="1"' in confirm.text
    done = client.post(url, data={**data, "confirmed": "yes"})
    assert done.status_code == 302
    # The same confirmation posted again (a double-click) starts nothing more.
    again = client.post(url, data={**data, "confirmed": "yes"})
    assert again.status_code == 302
    assert "Episode 2 has already been started." in client.get(again.location).text
    db.session.expire_all()
    assert [e.number for e in patient.episodes] == [1, 2]
    assert (patient.current_episode.label, patient.index_date) == ("Fistulotomy", new_date)
    assert patient.current_episode.started_by_id == coordinator.id
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "patient.new_episode"))
    assert event.detail["episode"] == 2 and event.detail["earlier"] == "cancel"
    assert event.detail["cancelled_messages"] > 0
    shown = client.get(f"/clinic/follow-up/patients/{patient.id}").text
    assert "Episode 2 (Fistulotomy)" in shown and "Episode 1, index date" in shown


def test_another_sites_patient_has_no_episode_page(client, coordinator, enrolled, other_site):
    patient = enrolled(index_date=date.today() + timedelta(days=7), enrol_site=other_site)
    assert client.get(f"/clinic/follow-up/patients/{patient.id}/episode").status_code == 404


def test_starting_an_episode_needs_a_csrf_token(client, coordinator, enrolled):
    patient = enrolled(index_date=date.today() + timedelta(days=7))
    response = client.post(
        f"/clinic/follow-up/patients/{patient.id}/episode",
        data={
            "index_date": str(date.today() + timedelta(days=60)),
            "schedule_id": "0",
            "earlier": "keep",
            "confirmed": "yes",
        },
    )
    assert response.status_code == 400
    db.session.expire_all()
    assert len(patient.episodes) == 1

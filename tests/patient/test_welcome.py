"""The welcome page speaks of the right time: how the patient is now, before the treatment, for
an invitation that opens before the index date; how they have been since it for every other."""

from datetime import UTC, date, datetime, timedelta

import pytest
from flask_babel import force_locale, ngettext

from survey.domain.invitations import asks_before_treatment, create_invitation
from survey.extensions import db
from survey.models import utcnow
from tests.fixtures.patients import interface

BEFORE = (
    "Before your treatment, %(clinic)s would like to know how you are now, "
    "with %(num)d short questionnaire."
)
SINCE = (
    "%(clinic)s would like to know how you have been since your treatment, "
    "with %(num)d short questionnaire."
)
AT_THE_MOMENT = (
    "Please answer about how things are for you at the moment. Later questionnaires will ask "
    "how you have been since your treatment."
)


def plural(language: str, message: str, clinic: str) -> str:
    """The welcome sentence for two questionnaires, as the catalog words it."""
    with force_locale(language):
        return ngettext(
            message, message.replace("questionnaire.", "questionnaires."), 2, clinic=clinic
        )


@pytest.mark.parametrize("language", ["en", "es", "tr"])
def test_a_baseline_before_the_treatment_asks_how_the_patient_is_now(
    patient, site, make_patient, invite, language
):
    before = make_patient(
        site,
        reference="P-BEFORE",
        language=language,
        index_date=(utcnow() + timedelta(days=10)).date(),
    )
    patient.opens(invite(before))
    page = patient.client.get("/survey").text
    assert plural(language, BEFORE, clinic=site.name) in page
    assert plural(language, SINCE, clinic=site.name) not in page
    assert interface(language, AT_THE_MOMENT) in page


@pytest.mark.parametrize("language", ["en", "es", "tr"])
def test_a_follow_up_asks_how_the_patient_has_been_since_the_treatment(
    patient, site, make_patient, invite, language
):
    after = make_patient(
        site,
        reference="P-AFTER",
        language=language,
        index_date=(utcnow() - timedelta(days=90)).date(),
    )
    patient.opens(invite(after))
    page = patient.client.get("/survey").text
    assert plural(language, SINCE, clinic=site.name) in page
    assert plural(language, BEFORE, clinic=site.name) not in page


def test_the_catalogs_word_the_two_times_differently(app):
    checked = 0
    for language in ("es", "tr"):
        before, since = plural(language, BEFORE, "X"), plural(language, SINCE, "X")
        assert before not in (plural("en", BEFORE, "X"), since)
        checked += 1
    assert checked == 2


def invitation_at(patient, label: str, opens_at: datetime):
    invitation = create_invitation(db.session, patient, label, opens_at=opens_at)
    db.session.flush()
    return invitation


def test_before_means_opening_on_a_day_before_the_index_date_where_the_patient_lives(
    site, make_patient
):
    madrid = make_patient(site, reference="P-MADRID", index_date=date(2026, 3, 10))
    # 23:30 UTC on 9 March is already 10 March in Madrid: the procedure day, not before it.
    assert not asks_before_treatment(
        invitation_at(madrid, "baseline", datetime(2026, 3, 9, 23, 30, tzinfo=UTC))
    )
    assert asks_before_treatment(
        invitation_at(madrid, "baseline", datetime(2026, 3, 9, 22, 30, tzinfo=UTC))
    )
    # The label does not matter once there is an index date: the calendar does.
    assert asks_before_treatment(
        invitation_at(madrid, "pre-op check", datetime(2026, 2, 1, 9, tzinfo=UTC))
    )
    assert not asks_before_treatment(
        invitation_at(madrid, "baseline", datetime(2026, 4, 1, 9, tzinfo=UTC))
    )


def test_without_an_index_date_only_the_baseline_timepoint_is_before_treatment(site, make_patient):
    undated = make_patient(site, reference="P-UNDATED", index_date=None)
    now = utcnow()
    assert asks_before_treatment(invitation_at(undated, "baseline", now))
    assert not asks_before_treatment(invitation_at(undated, "3 months", now))

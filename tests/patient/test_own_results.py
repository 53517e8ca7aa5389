"""A patient's own totals after sending: only where the site chose it, in plain words, with
no band names and nobody else's answers."""

from flask_babel import force_locale

from survey.extensions import db
from survey.instruments import get_instrument
from tests.fixtures.patients import CCIS_10, QOLAF_51, interface


def send(patient, link):
    patient.opens(link)
    patient.completes(QOLAF_51, CCIS_10)


def test_results_are_off_unless_the_site_turns_them_on(enrolled, invite, patient):
    send(patient, invite(enrolled))
    done = patient.client.get("/survey/done")
    assert "/survey/results" not in done.text
    assert patient.client.get("/survey/results").status_code == 404


def test_a_patient_sees_their_own_totals_in_plain_words(
    site, enrolled, invite, patient, make_patient, app
):
    site.patient_results = True
    db.session.commit()
    other = make_patient(site, reference="OTHER", language="es")
    send(type(patient)(app.test_client()), invite(other))  # someone else's answers
    send(patient, invite(enrolled))
    done = patient.client.get("/survey/done")
    assert "/survey/results" in done.text
    page = patient.client.get("/survey/results")
    assert page.status_code == 200
    assert interface("es", "%(date)s: %(total)d", date="", total=51).strip() in page.text
    lists = page.text.split('class="own-totals"')[1:]
    # One total each: the other patient's are not here.
    assert [part.split("</ul>")[0].count("<li>") for part in lists] == [1, 1]
    assert interface("es", "A lower total means fewer problems.") in page.text
    with force_locale("es"):
        for band in get_instrument("qolaf-q").bands:
            assert f">{band.label('es')}<" not in page.text


def test_results_are_not_shown_before_sending(site, enrolled, invite, patient):
    site.patient_results = True
    db.session.commit()
    patient.opens(invite(enrolled))
    assert patient.client.get("/survey/results").status_code == 302


def test_the_site_setting_is_changed_from_the_command_line(runner, site):
    result = runner.invoke(args=["sites", "patient-results", site.name, "on"])
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    assert site.patient_results is True

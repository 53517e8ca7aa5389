"""What a text costs: GSM-7 or UCS-2, and how many segments, for every text and language."""

import pytest

from survey.outreach import texts
from survey.outreach.segments import GSM7, UCS2, count_segments

# Every language shipped with texts; tests/outreach/test_text_languages.py checks that these are
# the languages patients can answer in.
LANGUAGES = ("en", "es", "tr")


@pytest.mark.parametrize(
    "text, encoding, units, segments",
    [
        ("", GSM7, 0, 0),
        ("a" * 160, GSM7, 160, 1),
        ("a" * 161, GSM7, 161, 2),
        ("a" * 306, GSM7, 306, 2),
        ("a" * 307, GSM7, 307, 3),
        ("@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ¡ÄÖÑÜ§¿äöñüà", GSM7, 41, 1),
        # The extension table costs two septets a character.
        ("€" * 80, GSM7, 160, 1),
        ("€" * 81, GSM7, 162, 2),
        ("a" * 158 + "[", GSM7, 160, 1),
        # An escape pair is never split: 152 + a 2-septet character starts the next segment.
        ("a" * 152 + "€" + "a" * 152, GSM7, 306, 3),
        ("a" * 151 + "€" + "a" * 153, GSM7, 306, 2),
        # One character outside GSM-7 switches the whole text to UCS-2.
        ("ı" + "a" * 69, UCS2, 70, 1),
        ("ı" + "a" * 70, UCS2, 71, 2),
        ("ş" * 134, UCS2, 134, 2),
        ("ş" * 135, UCS2, 135, 3),
        ("Más información", UCS2, 15, 1),
        # Outside the Basic Multilingual Plane: two UTF-16 units, never split.
        ("😀" * 35, UCS2, 70, 1),
        ("a" * 66 + "😀" + "a" * 66, UCS2, 134, 3),
        ("a" * 65 + "😀" + "a" * 67, UCS2, 134, 2),
    ],
)
def test_segments_follow_the_gsm_rules(text, encoding, units, segments):
    count = count_segments(text)
    assert (count.encoding, count.units, count.segments) == (encoding, units, segments)


def test_ucs2_names_the_characters_that_forced_it():
    assert count_segments("Takip sorularınız ve ağrı").unicode_characters == ("ğ", "ı")
    assert count_segments("plain text").unicode_characters == ()


def test_turkish_letters_change_the_encoding_spanish_texts_avoid_it(app):
    link = texts.example_link("https://survey.example.org")
    checked = 0
    for kind in texts.LINK_KINDS:
        assert count_segments(texts.render(kind, "tr", "Klinik", link)).encoding == UCS2
        assert count_segments(texts.render(kind, "es", "Clinica", link)).encoding == GSM7
        assert count_segments(texts.render(kind, "en", "Clinic", link)).encoding == GSM7
        checked += 1
    assert checked == 4


@pytest.mark.parametrize("kind", texts.LINK_KINDS)
@pytest.mark.parametrize("language", ["en", "es"])
def test_english_and_spanish_link_texts_stay_one_gsm7_segment(app, kind, language):
    # A 16-character site name and a link as long as a real one, as the texts page counts.
    link = texts.example_link("https://survey.example.org")
    count = count_segments(texts.render(kind, language, "Hospital Central", link))
    assert (count.encoding, count.segments) == (GSM7, 1)
    assert count.units <= 158, "leave room for a slightly longer site name"


PRODUCTION_URL = "https://followup.example-hospital.org.es"  # 40 characters


@pytest.mark.parametrize("kind", texts.KINDS)
def test_shipped_texts_fit_one_gsm7_segment_in_en_es_and_two_ucs2_in_tr(app, kind):
    assert len(PRODUCTION_URL) == 40
    link = texts.example_link(PRODUCTION_URL)
    for language, encoding, most in (("en", GSM7, 1), ("es", GSM7, 1), ("tr", UCS2, 2)):
        body = texts.render(kind, language, texts.neutral_name(language), link, "+34 950 000 000")
        count = count_segments(body)
        assert count.encoding == encoding, (kind, language, count.unicode_characters)
        assert count.segments <= most, (kind, language, count.units)


def test_a_sender_name_is_refused_when_it_would_push_a_text_past_two_segments(app):
    link = texts.example_link(PRODUCTION_URL)
    assert texts.segments_by_language("Hospital Central", link) == {
        "en": 1,
        "ar": 2,
        "es": 1,
        "it": 2,
        "pt_BR": 2,
        "tr": 2,
    }
    assert texts.too_costly("Hospital Central", link) == []
    long_name = "Hospital Universitario Torrecardenas"
    assert texts.too_costly(long_name, link) == ["ar", "tr"]
    assert texts.segments_by_language(long_name, link)["tr"] == 3


@pytest.mark.parametrize("language", LANGUAGES)
def test_texts_before_the_treatment_never_speak_of_the_time_since_it(app, language):
    words = {
        "en": ("before your treatment", "since your treatment"),
        "es": ("antes del tratamiento", "desde el tratamiento"),
        "tr": ("öncesi", "beri"),
    }[language]
    before, since = words
    for kind in (texts.INVITATION_BEFORE, texts.REMINDER_BEFORE):
        text = texts.template(kind, language)
        assert before in text and since not in text
    for kind in (texts.INVITATION, texts.REMINDER):
        text = texts.template(kind, language)
        assert since in text and before not in text


@pytest.mark.parametrize(
    "reminder, before, kind",
    [
        (False, True, texts.INVITATION_BEFORE),
        (False, False, texts.INVITATION),
        (True, True, texts.REMINDER_BEFORE),
        (True, False, texts.REMINDER),
    ],
)
def test_each_message_of_an_invitation_gets_the_text_for_its_time(reminder, before, kind):
    assert texts.link_text_kind(reminder=reminder, before_treatment=before) == kind


@pytest.mark.parametrize("kind", texts.KINDS)
@pytest.mark.parametrize("language", LANGUAGES)
def test_every_text_exists_in_every_language_and_says_how_to_stop(app, kind, language):
    template = texts.template(kind, language)
    assert "{clinic}" in template
    # The confirmation of an opt-out says how to come back instead.
    assert ("START" if kind == texts.OPTED_OUT else "STOP") in template
    if kind in texts.LINK_KINDS:
        assert "{link}" in template
    if kind == texts.HELP:
        assert "{contact}" in template


@pytest.mark.parametrize("kind", texts.KINDS)
@pytest.mark.parametrize("language", LANGUAGES)
def test_no_text_says_what_the_patient_is_treated_for(app, kind, language):
    text = texts.render(kind, language, "", "", "")
    assert texts.revealing_words(text) == []


def test_a_sender_name_that_reveals_the_condition_is_flagged():
    assert texts.revealing_words("Almería Colorectal Unit") == ["colorectal"]
    assert texts.revealing_words("Unidad de Fístula Anal") == ["fístula", "anal"]
    assert texts.revealing_words("Kolorektal Cerrahi Kliniği") == ["kolorektal", "cerrahi"]
    assert texts.revealing_words("Hospital Torrecárdenas") == []
    assert texts.revealing_words("Correct Analytics Clinic") == []


def test_the_example_link_is_as_long_as_a_real_one(app, site, make_patient):
    from survey.domain.invitations import create_invitation, link_url, mint_link
    from survey.extensions import db

    invitation = create_invitation(db.session, make_patient(site), "baseline")
    real = link_url("https://survey.example.org", mint_link(db.session, invitation))
    assert len(texts.example_link("https://survey.example.org")) == len(real)

"""The two shipped instruments say what is known about them, and nothing more, in every language."""

import ast
import dataclasses
import re
from pathlib import Path

import pytest

import survey.instruments
from survey.instruments import (
    LANGUAGES,
    WORDING_STATUSES,
    all_instruments,
    fingerprint,
    get_instrument,
    load_definition,
    scoring,
)

INSTRUMENTS = [get_instrument("qolaf-q"), get_instrument("ccis")]
# The languages of the definition files themselves; the later ones are shipped as wording
# files in definitions/languages/, applied as a clinic's import would be.
FIRST_LANGUAGES = ("en", "es", "tr")
ADDED_LANGUAGES = ("ar", "it", "pt_BR")
PER_LANGUAGE = [(inst, lang) for inst in INSTRUMENTS for lang in inst.languages]


def ids(value):
    return value.id if hasattr(value, "id") else str(value)


def every_text(instrument, lang):
    """Every text the instrument holds in `lang`: what patients see and what staff see."""
    yield "title", instrument.title(lang)
    yield "instructions", instrument.instructions(lang)
    if instrument.id != "ccis":  # the CCIS states no recall period, on purpose (see below)
        yield "recall period", instrument.recall_period(lang)
    yield "wording note", instrument.wording_note(lang)
    for item in instrument.items:
        yield f"item {item.id}", item.text(lang)
    for option in instrument.options:
        yield f"option {option.value}", option.label(lang)
    for group in (instrument.bands, instrument.subscales, instrument.cutoffs):
        for entry in group:
            yield f"{type(entry).__name__} {entry.id}", entry.label(lang)


def test_the_shipped_instruments_are_listed_qolaf_first(qolaf, ccis):
    assert all_instruments() == (qolaf, ccis)
    assert [inst.id for inst in all_instruments()] == ["qolaf-q", "ccis"]


def test_an_instrument_is_loaded_once_and_cannot_be_changed(qolaf):
    assert get_instrument("qolaf-q") is qolaf
    with pytest.raises(dataclasses.FrozenInstanceError):
        qolaf.version = "2.0"
    with pytest.raises(dataclasses.FrozenInstanceError):
        qolaf.items[0].id = "changed"


def test_asking_for_an_unknown_instrument_names_the_ones_there_are():
    with pytest.raises(KeyError, match=r"unknown instrument 'phq-9' \(known: qolaf-q, ccis\)"):
        get_instrument("phq-9")


def test_asking_for_a_language_an_instrument_lacks_names_the_ones_it_has(ccis):
    with pytest.raises(
        KeyError, match=r"no text in language 'fr' \(available: en, es, tr, ar, it, pt_BR\)"
    ):
        ccis.title("fr")
    with pytest.raises(KeyError, match="ccis has no text in language 'fr'"):
        ccis.wording_status("fr")


@pytest.mark.parametrize("instrument", INSTRUMENTS, ids=ids)
def test_both_instruments_are_offered_in_every_shipped_language(instrument):
    assert instrument.languages == LANGUAGES == FIRST_LANGUAGES + ADDED_LANGUAGES
    # CCIS 1.1 dropped the 4-week window that made "rarely" impossible (see below).
    assert instrument.version == {"qolaf-q": "1.0", "ccis": "1.1"}[instrument.id]


@pytest.mark.parametrize(("instrument", "lang"), PER_LANGUAGE, ids=ids)
def test_every_language_has_every_text(instrument, lang):
    empty = [where for where, text in every_text(instrument, lang) if not text or not text.strip()]
    assert empty == []
    assert instrument.wording_status(lang) in WORDING_STATUSES


@pytest.mark.parametrize("instrument", INSTRUMENTS, ids=ids)
def test_no_text_is_left_untranslated(instrument):
    english = dict(every_text(instrument, "en"))
    for lang in instrument.languages[1:]:
        same = [
            where
            for where, text in every_text(instrument, lang)
            # Acronyms and names in titles may stay; sentences may not.
            if text == english[where] and len(text.split()) > 3
        ]
        assert same == [], lang
    assert len(instrument.languages) > 1  # the loop checked some translation


@pytest.mark.parametrize("instrument", INSTRUMENTS, ids=ids)
def test_questions_read_as_questions_in_every_language(instrument):
    assert len(instrument.items) >= 5
    for item in instrument.items:
        assert item.text("en").endswith("?")
        assert item.text("tr").endswith("?")
        assert item.text("es").startswith("¿") and item.text("es").endswith("?")
        assert item.text("it").endswith("?") and item.text("pt_BR").endswith("?")
        assert item.text("ar").endswith("؟"), "Arabic asks with its own question mark"


@pytest.mark.parametrize("instrument", INSTRUMENTS, ids=ids)
def test_turkish_and_spanish_are_written_with_their_own_letters(instrument):
    turkish = " ".join(text for _, text in every_text(instrument, "tr"))
    spanish = " ".join(text for _, text in every_text(instrument, "es"))
    assert set("çğış") & set(turkish) and set("öü") & set(turkish)
    assert set("áéíóúñ") & set(spanish)


# -- CCIS ----------------------------------------------------------------------

CCIS_FREQUENCIES = {
    "en": {
        0: "it does not happen",
        1: "less than once a month",
        2: "less than once a week but at least once a month",
        3: "less than once a day but at least once a week",
        4: "at least once a day",
    },
    "es": {
        0: "no ocurre",
        1: "menos de una vez al mes",
        2: "menos de una vez a la semana, pero al menos una vez al mes",
        3: "menos de una vez al día, pero al menos una vez a la semana",
        4: "al menos una vez al día",
    },
    "tr": {
        0: "hiç olmuyor",
        1: "ayda bir kereden az",
        2: "haftada bir kereden az, ama ayda en az bir kez",
        3: "günde bir kereden az, ama haftada en az bir kez",
        4: "günde en az bir kez",
    },
    "ar": {
        0: "لا يحدث",
        1: "أقل من مرة في الشهر",
        2: "أقل من مرة في الأسبوع لكن مرة في الشهر على الأقل",
        3: "أقل من مرة في اليوم لكن مرة في الأسبوع على الأقل",
        4: "مرة في اليوم على الأقل",
    },
    "it": {
        0: "non succede",
        1: "meno di una volta al mese",
        2: "meno di una volta alla settimana, ma almeno una volta al mese",
        3: "meno di una volta al giorno, ma almeno una volta alla settimana",
        4: "almeno una volta al giorno",
    },
    "pt_BR": {
        0: "não acontece",
        1: "menos de uma vez por mês",
        2: "menos de uma vez por semana, mas pelo menos uma vez por mês",
        3: "menos de uma vez por dia, mas pelo menos uma vez por semana",
        4: "pelo menos uma vez por dia",
    },
}


def test_ccis_asks_about_five_kinds_of_leakage_in_the_published_order(ccis):
    assert [item.id for item in ccis.items] == ["solid", "liquid", "gas", "pad", "lifestyle"]
    assert [item.number for item in ccis.items] == [1, 2, 3, 4, 5]
    assert [option.value for option in ccis.options] == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_ccis_answer_label_spells_out_its_frequency(ccis, lang):
    assert ccis.options
    for option in ccis.options:
        word, frequency = option.label(lang).split(" — ")
        assert word.strip()
        assert frequency == CCIS_FREQUENCIES[lang][option.value]


def test_ccis_wording_is_the_projects_own_and_never_claimed_as_validated(ccis):
    assert {lang: ccis.wording_status(lang) for lang in LANGUAGES} == dict.fromkeys(
        LANGUAGES, "unvalidated translation"
    )
    for lang in FIRST_LANGUAGES:
        assert "no formal recall period" in ccis.wording_note(lang)
        assert "product's choice" in ccis.wording_note(lang)
    for lang in ADDED_LANGUAGES:
        note = ccis.wording_note(lang)
        assert "written by this project" in note and "unvalidated translation" in note
        assert "no recall period is stated" in note
    # Validated Italian and Brazilian Portuguese versions are reported; these are not them.
    for lang in ("it", "pt_BR"):
        assert "this is NOT that version's text" in ccis.wording_note(lang)


def test_ccis_states_no_recall_window_so_every_frequency_can_be_chosen(ccis):
    # The original scale (Jorge & Wexner 1993) states frequencies, not a window. With "in the
    # past 4 weeks", one episode is already "sometimes" and "rarely (less than once a month)"
    # could never be chosen; asking how often it usually happens now leaves every anchor open.
    assert [ccis.recall_period(lang) for lang in LANGUAGES] == [None] * len(LANGUAGES)
    assert "usually happens to you now" in ccis.instructions("en")
    assert "habitualmente ahora" in ccis.instructions("es")
    assert "şu sıralar genellikle" in ccis.instructions("tr")
    for lang in FIRST_LANGUAGES:
        assert "1.0" in ccis.wording_note(lang), "the note says what the earlier version stated"
    assert ccis.options[1].label("en") == "Rarely — less than once a month"


def test_the_recall_change_is_a_new_version_with_a_new_wording_hash(ccis):
    retired = load_definition(
        Path(survey.instruments.__file__).parent / "definitions" / "retired" / "ccis-1.0.json"
    )
    assert (retired.version, ccis.version) == ("1.0", "1.1")
    assert retired.recall_period("en") == "In the past 4 weeks"
    for lang in FIRST_LANGUAGES:
        assert fingerprint.wording_hash(ccis, lang) != fingerprint.wording_hash(retired, lang)
    for lang in LANGUAGES:
        assert ccis.wording_version(lang) == "1.1"
    # Only what patients read changed: the same answers score the same.
    answers = {"solid": 1, "liquid": 2, "gas": 3, "pad": 4, "lifestyle": 0}
    now, then = scoring.score(ccis, answers), scoring.score(retired, answers)
    assert (now.total, now.band, now.subscales) == (then.total, then.band, then.subscales)
    assert [c.id for c in now.cutoffs] == [c.id for c in then.cutoffs]
    assert [i.id for i in ccis.items] == [i.id for i in retired.items]


def test_ccis_has_no_bands_only_a_commonly_cited_cut_off_with_its_source(ccis):
    assert ccis.bands == ()
    assert ccis.bands_citation is None
    assert ccis.subscales == ()
    [severe] = ccis.cutoffs
    assert (severe.id, severe.min_total, severe.kind) == ("severe", 9, "commonly cited")
    assert "Dis Colon Rectum 2001;44:67-71" in severe.citation
    assert "Jorge JMN, Wexner SD" in ccis.citation
    assert "Dis Colon Rectum 1993;36:77-97. doi:10.1007/BF02050307" in ccis.citation


# -- QoLAF-Q -------------------------------------------------------------------


def test_qolaf_has_fourteen_items_on_a_one_to_five_scale(qolaf):
    assert [item.id for item in qolaf.items] == [f"q{n}" for n in range(1, 15)]
    assert [option.value for option in qolaf.options] == [1, 2, 3, 4, 5]


def test_qolaf_has_the_published_impact_bands_with_their_source(qolaf):
    assert [(band.id, band.min, band.max) for band in qolaf.bands] == [
        ("none", 14, 14),
        ("limited", 15, 28),
        ("moderate", 29, 42),
        ("high", 43, 56),
        ("very-high", 57, 70),
    ]
    assert qolaf.bands_citation == "Ferrer-Márquez M, et al. Cir Esp 2018;96:213-20."
    assert [band.label("es") for band in qolaf.bands][-1] == "Impacto muy alto"
    assert qolaf.cutoffs == ()


def test_qolaf_cites_the_development_paper_and_the_turkish_validation(qolaf):
    assert "Dis Colon Rectum 2017;60:1083-91" in qolaf.citation
    assert "doi:10.1097/DCR.0000000000000877" in qolaf.citation
    assert "Koç MA, et al. Turk J Colorectal Dis 2023;33:124-30" in qolaf.citation


@pytest.mark.parametrize("lang", LANGUAGES)
def test_qolaf_wording_is_provisional_and_says_where_to_get_the_official_text(qolaf, lang):
    note = qolaf.wording_note(lang)

    assert qolaf.wording_status(lang) == "provisional"
    assert "not the official QoLAF-Q wording" in note
    assert "M. Ferrer-Márquez, Hospital Torrecárdenas, Almería" in note
    assert "flask --app wsgi instruments import FILE" in note
    assert "recall period" in note and "this product's choice" in note


def test_qolaf_subscales_are_a_provisional_split_of_every_item(qolaf):
    assert [subscale.id for subscale in qolaf.subscales] == ["physical", "psychosocial"]
    every_item = [item_id for subscale in qolaf.subscales for item_id in subscale.item_ids]
    assert sorted(every_item) == sorted(item.id for item in qolaf.items)
    for subscale in qolaf.subscales:
        assert subscale.provisional is True
        assert "not publicly available" in subscale.note


# -- the package itself -------------------------------------------------------


def test_the_instruments_package_imports_no_web_or_database_framework():
    package = Path(survey.instruments.__file__).parent
    imported = set()
    for source in package.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                imported.add(node.module.split(".")[0])
    assert imported, "the scan found no imports at all"
    assert not {name for name in imported if re.match(r"flask|sqlalchemy|werkzeug", name)}

"""A clinic imports the licensed wording: later patients see it, nothing else changes."""

import json

import pytest
from sqlalchemy import func, select

from survey.domain.wording_in_use import instrument_in_use
from survey.extensions import db
from survey.instruments import get_instrument, scoring
from survey.instruments.definition_file import definition_dict
from survey.models import ImportedWording
from tests.instruments.builders import wording_file, write_json


def official(text: str) -> str:
    return f"[oficial] {text}"


def test_imported_spanish_wording_is_used_and_scoring_is_unchanged(runner, tmp_path):
    qolaf = get_instrument("qolaf-q")
    path = write_json(tmp_path / "qolaf-es.json", wording_file(qolaf, ["es"], reword=official))
    result = runner.invoke(args=["instruments", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert "es: validated" in result.output

    in_use = instrument_in_use(db.session, "qolaf-q")
    assert in_use.item("q1").text("es") == official(qolaf.item("q1").text("es"))
    assert in_use.item("q1").text("en") == qolaf.item("q1").text("en")
    assert in_use.wording_status("en") == "provisional"
    answers = {item.id: 4 for item in qolaf.items}
    assert scoring.score(in_use, answers) == scoring.score(qolaf, answers)
    # The shipped definition, shared by every request in the process, is untouched.
    assert get_instrument("qolaf-q").wording_status("es") == "provisional"


def test_imports_of_different_languages_add_up(runner, tmp_path):
    ccis = get_instrument("ccis")
    for language in ("es", "tr"):
        path = write_json(
            tmp_path / f"{language}.json", wording_file(ccis, [language], reword=official)
        )
        assert runner.invoke(args=["instruments", "import", str(path)]).exit_code == 0
    in_use = instrument_in_use(db.session, "ccis")
    assert in_use.wording_status("es") == in_use.wording_status("tr") == "validated"


@pytest.mark.parametrize(
    "content, message",
    [
        ("{not json", "not valid JSON"),
        ('{"id": "ccis", "id": "ccis"}', "appears twice"),
        ("[1, 2]", "one JSON object"),
        (json.dumps({"id": "sf-36"}), "no instrument with id 'sf-36'"),
    ],
)
def test_a_file_that_does_not_fit_is_refused_and_nothing_is_stored(
    runner, tmp_path, content, message
):
    path = tmp_path / "wording.json"
    path.write_text(content, encoding="utf-8")
    result = runner.invoke(args=["instruments", "import", str(path)])
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output
    assert db.session.scalar(select(func.count()).select_from(ImportedWording)) == 0


def test_a_file_that_changes_the_bands_is_refused(runner, tmp_path):
    qolaf = get_instrument("qolaf-q")
    data = wording_file(qolaf, ["es"]) | {"bands": definition_dict(qolaf)["bands"][:-1]}
    path = write_json(tmp_path / "b.json", data)
    result = runner.invoke(args=["instruments", "import", str(path)])
    assert result.exit_code != 0
    assert "bands" in result.output
    assert db.session.scalar(select(func.count()).select_from(ImportedWording)) == 0


def test_a_missing_file_is_refused_in_one_line(runner, tmp_path):
    result = runner.invoke(args=["instruments", "import", str(tmp_path / "absent.json")])
    assert result.exit_code != 0
    assert "Traceback" not in result.output


def test_each_page_shows_the_wording_in_the_database_now_though_the_process_keeps_it(
    runner, tmp_path
):
    # An import made through another node, or tables emptied and refilled (ids reused), must
    # show on the next page; the process's copy of the applied wording never hides it.
    ccis = get_instrument("ccis")
    for mark in ("[first]", "[second]"):
        db.session.execute(ImportedWording.__table__.delete())
        db.session.commit()
        path = write_json(
            tmp_path / "es.json",
            wording_file(ccis, ["es"], reword=lambda text, m=mark: f"{m} {text}"),
        )
        assert runner.invoke(args=["instruments", "import", str(path)]).exit_code == 0
        for _ in range(2):  # the second read is the kept copy
            shown = instrument_in_use(db.session, "ccis").item("solid").text("es")
            assert shown == f"{mark} {ccis.item('solid').text('es')}"
    db.session.execute(ImportedWording.__table__.delete())
    db.session.commit()
    assert instrument_in_use(db.session, "ccis") is ccis

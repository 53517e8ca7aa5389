"""For R: the archive holds the long CSV with labels, the dictionary, and a script that reads
them (run with Rscript when R is installed)."""

import csv
import io
import shutil
import subprocess
import zipfile

import pytest

from survey.clinic import exports, exports_r
from survey.extensions import db
from survey.instruments import get_instrument
from tests.clinic.test_exports import download


@pytest.fixture
def archive(signed_in, published_case):
    response = download(signed_in, "r")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/zip"
    assert response.headers["Content-Disposition"].endswith('.zip"')
    return zipfile.ZipFile(io.BytesIO(response.data))


def read(archive, name):
    data = archive.read(name)
    assert not data.startswith(b"\xef\xbb\xbf")  # R would read the mark into a column name
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))


def test_the_archive_holds_labelled_answers_the_dictionary_and_a_script(archive):
    assert archive.namelist() == ["answers.csv", "dictionary.csv", "read.R"]
    answers = read(archive, "answers.csv")
    assert list(answers[0]) == [c.name for c in exports_r.columns()]
    assert len(answers) == 4 * 19
    ccis = get_instrument("ccis")
    solid = [r for r in answers if r["item_id"] == "solid"]
    assert [(r["timepoint"], r["value"], r["total"]) for r in solid] == [
        ("baseline", "1", "10"),
        ("3 weeks", "0", "6"),
        ("3 months", "0", "2"),
        ("6 months", "0", "0"),
    ]
    assert solid[0]["item_text"] == ccis.items[0].text("en")
    assert solid[0]["value_label"] == "Rarely — less than once a month"
    qolaf = [r for r in answers if r["instrument_id"] == "qolaf-q" and r["item_position"] == "1"]
    assert [r["total"] for r in qolaf] == ["51", "44", "35", "28"]
    dictionary = read(archive, "dictionary.csv")
    described = {r["column"] for r in dictionary}
    assert described == {c.name for c in exports_r.columns()}
    assert all(r["description"] for r in dictionary)
    script = archive.read("read.R").decode("utf-8")
    assert 'read.csv("answers.csv"' in script and '"provisional"' in script


def test_the_script_reads_the_files_in_r(archive, tmp_path):
    rscript = shutil.which("Rscript")
    if rscript is None:
        pytest.skip("R is not installed")
    archive.extractall(tmp_path)
    check = (
        'source("read.R"); stopifnot(nrow(answers) == 76, '
        'sum(answers$value[answers$item_id == "solid"]) == 1, '
        'inherits(answers$submitted_at, "POSIXct"), '
        'levels(answers$wording_status)[3] == "provisional", '
        'nchar(attr(answers$total, "label")) > 0); cat("ok")'
    )
    result = subprocess.run(  # noqa: S603 - a fixed script, in a test
        [rscript, "-e", check], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith("ok")


def test_the_archive_as_a_plain_function_in_another_language(app, published_case, tmp_path):
    path = tmp_path / "export.zip"
    scope = exports.ExportScope((published_case.site_id,))
    instruments = (get_instrument("qolaf-q"), get_instrument("ccis"))
    tables = {"long": exports.long_columns()}
    count = exports_r.write_zip(str(path), db.session, scope, instruments, "es", tables)
    assert count == 4 * 19
    with zipfile.ZipFile(path) as archive:
        answers = read(archive, "answers.csv")
    first = answers[0]
    assert first["item_text"] == instruments[0].item(first["item_id"]).text("es")
    assert first["value_label"] in {o.label("es") for o in instruments[0].options}

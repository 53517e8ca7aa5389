"""An installed wheel works outside the checkout: templates, catalogs, migrations, instruments."""

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

# Builds and installs the wheel on its own SQLite file: CI runs it once, on SQLite.
pytestmark = pytest.mark.any_database

CHECKOUT = Path(__file__).resolve().parents[1]

SMOKE = """
import sys, flask_migrate, survey
from survey import create_app
assert survey.__file__.startswith(sys.argv[1]), survey.__file__
app = create_app({"TESTING": True, "SECRET_KEY": "x", "DATABASE_URL": sys.argv[2]})
with app.app_context():
    flask_migrate.upgrade()
page = app.test_client().get("/login", headers={"Accept-Language": "es"})
assert page.status_code == 200, page.status_code
print(page.text)
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    pytest.importorskip("hatchling", reason="building the wheel needs hatchling (in [test])")
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(out),
            str(CHECKOUT),
        ],
        check=True,
        capture_output=True,
    )
    return next(out.glob("survey-*.whl"))


def test_the_wheel_carries_everything_the_app_reads_at_run_time(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in (
        "survey/templates/base.html",
        "survey/static/style.css",
        "survey/translations/es/LC_MESSAGES/messages.mo",
        "survey/translations/tr/LC_MESSAGES/messages.mo",
        "survey/migrations/env.py",
        "survey/instruments/definitions/qolaf-q.json",
        "survey/instruments/definitions/ccis.json",
    ):
        assert required in names


def test_an_installed_wheel_serves_translated_pages_outside_the_checkout(wheel, tmp_path):
    site_dir = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site_dir)
    result = subprocess.run(
        [sys.executable, "-c", SMOKE, str(site_dir), f"sqlite:///{tmp_path / 'w.sqlite'}"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(site_dir)},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert 'lang="es"' in result.stdout
    assert "Acceso del personal" in result.stdout

"""Which code may import which (docs/architecture.md): the import-linter contracts in
pyproject.toml, run here so that CI checks them with the rest of the suite."""

import tomllib
from pathlib import Path

import grimp
import pytest
from importlinter.cli import lint_imports

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"
CONTRACTS = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["tool"]["importlinter"]


def test_the_contracts_cover_the_layers_the_instruments_and_cycles():
    kinds = {contract["id"]: contract["type"] for contract in CONTRACTS["contracts"]}
    assert kinds == {
        "layers": "layers",
        "pure-instruments": "forbidden",
        "acyclic": "acyclic_siblings",
    }
    acyclic = next(c for c in CONTRACTS["contracts"] if c["id"] == "acyclic")
    assert acyclic["ancestors"] == ["survey"]  # every package, at every depth


def test_every_module_of_the_package_has_a_layer():
    """A new top-level module or package must be placed in a layer (docs/architecture.md says
    which), or the layers contract would not check it."""
    layers = next(c for c in CONTRACTS["contracts"] if c["id"] == "layers")["layers"]
    placed = {name.strip() for layer in layers for name in layer.split(":")}
    graph = grimp.build_graph("survey", cache_dir=None)
    top_level = {m for m in graph.find_children("survey") if m != "survey.migrations"}
    assert len(top_level) > 25
    assert top_level - placed == set()
    assert placed - top_level == set()


@pytest.mark.parametrize("contract", [c["id"] for c in CONTRACTS["contracts"]])
def test_the_code_keeps_the_contract(contract):
    """A broken contract prints the imports that break it (pytest shows the output)."""
    exit_code = lint_imports(
        config_filename=str(PYPROJECT),
        limit_to_contracts=(contract,),
        no_cache=True,
        no_logo=True,
    )
    assert exit_code == 0, f"contract {contract!r} is broken: see the output above"


BLUEPRINT_PACKAGES = (
    "survey.admin",
    "survey.auth",
    "survey.clinic",
    "survey.coordinate",
    "survey.patient",
)


def test_the_app_imports_every_module_that_adds_routes_to_a_blueprint():
    """A blueprint package defines `bp` in its blueprint.py and its view modules import it;
    the app factory imports the view modules (survey.VIEW_MODULES). A view module left out of
    that list would lose its pages, so the list is every module that imports a blueprint."""
    from survey import VIEW_MODULES

    graph = grimp.build_graph("survey", exclude_type_checking_imports=True, cache_dir=None)
    blueprints = {f"{package}.blueprint" for package in BLUEPRINT_PACKAGES}
    assert blueprints <= graph.modules
    importers = {
        module
        for blueprint in blueprints
        for module in graph.find_modules_that_directly_import(blueprint)
    } - {"survey"}
    assert len(importers) >= len(BLUEPRINT_PACKAGES)
    assert set(VIEW_MODULES) == importers
    for package in BLUEPRINT_PACKAGES:  # no package imports its own views
        assert not {
            m for m in graph.find_modules_directly_imported_by(package) if m.startswith(package)
        }


def cycles(graph: grimp.ImportGraph) -> list[set[str]]:
    """The groups of modules that import each other in a circle (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = set()
            while True:
                member = stack.pop()
                group.add(member)
                if member == module:
                    break
            if len(group) > 1:
                found.append(group)

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return found


def test_no_import_cycle_anywhere():
    """Stricter than the siblings contract: a cycle through a package's own __init__.py (the
    package and one of its modules importing each other) counts too. Late imports count."""
    graph = grimp.build_graph("survey", exclude_type_checking_imports=True, cache_dir=None)
    assert len(graph.modules) > 100
    assert cycles(graph) == []


def test_an_instrument_is_a_value_the_functions_over_it_import():
    """`Instrument` and its parts hold data; validating, scoring, fingerprinting and writing
    one back are functions in their own modules, which import definition.py, never the other
    way round (docs/instruments.md)."""
    graph = grimp.build_graph("survey", exclude_type_checking_imports=False, cache_dir=None)
    imported = graph.find_modules_directly_imported_by("survey.instruments.definition")
    assert not {module for module in imported if module.startswith("survey.")}
    for module in ("answers", "scoring", "fingerprint", "definition_file"):
        assert graph.direct_import_exists(
            importer=f"survey.instruments.{module}", imported="survey.instruments.definition"
        )


PACKAGE = PYPROJECT.parent / "survey"
#: Lines a module may run to before it must say why it is one module (issue #13).
LONGEST = 300
#: The modules over LONGEST lines, each with the one idea it holds. A module that grows past
#: LONGEST is split where it holds two ideas, or added here with its one.
ONE_IDEA_EACH = {
    "cli/patients.py": "the `patients` commands",
    "clinic/export_columns.py": "the columns of the research exports, as the dictionary says",
    "clinic/exports.py": "the research exports' rows, streamed as CSV",
    "clinic/exports_redcap.py": "the REDCap data dictionary and the data file that goes with it",
    "clinic/fhir_resources.py": "the FHIR resources of the export",
    "clinic/listing.py": "the patient list's query",
    "clinic/results.py": "one patient's course, as the patient page shows it",
    "coordinate/patients.py": "the coordinator's pages of a patient",
    "domain/analytics.py": "the completion analytics' figures, and the scan they are checked by",
    "domain/completion_counts.py": "the counts the completion analytics keep, and reading them",
    "domain/submission.py": "a patient answering an invitation",
    "domain/summaries.py": "keeping each patient's summary row equal to their responses",
    "instruments/checks.py": "the checks of a definition file, one per field",
    "outreach/claims.py": "due messages claimed by the dispatcher, a batch at a time",
    "outreach/message_status.py": "a message's status steps, for one message or a batch",
    "patient/views.py": "the patient's pages",
}


def test_a_module_over_300_lines_holds_one_idea():
    modules = [path for path in PACKAGE.rglob("*.py") if "migrations" not in path.parts]
    assert len(modules) > 100
    lines = {
        path.relative_to(PACKAGE).as_posix(): len(path.read_text(encoding="utf-8").splitlines())
        for path in modules
    }
    long = {name for name, count in lines.items() if count > LONGEST}
    assert long - ONE_IDEA_EACH.keys() == set(), "split it, or list it here with its one idea"
    # A listed module that was split or renamed leaves the list.
    assert ONE_IDEA_EACH.keys() - lines.keys() == set()

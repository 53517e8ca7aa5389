"""Which code may import which (docs/architecture.md): the import-linter contracts in
pyproject.toml, run here so that CI checks them with the rest of the suite."""

import tomllib
from pathlib import Path

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

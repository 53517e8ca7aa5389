"""Checks on the test suite itself: a test that asserts nothing passes whatever the code does.

Read from the source with `ast`, nothing is run. A test asserts when its body (or a helper it
calls, found by name anywhere under tests/) holds an `assert`, a `pytest.raises`/`warns`, or
calls `pytest.fail`; a loop whose body asserts must be followed by an assertion that it ran
(or loop over a literal, whose items are there to see)."""

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent
CHECKERS = {"raises", "warns", "fail", "approx"}


def modules() -> dict[Path, ast.Module]:
    return {
        path: ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for path in sorted(TESTS.rglob("*.py"))
    }


def called_names(node: ast.AST) -> set[str]:
    names = set()
    for call in ast.walk(node):
        if isinstance(call, ast.Call):
            if isinstance(call.func, ast.Name):
                names.add(call.func.id)
            elif isinstance(call.func, ast.Attribute):
                names.add(call.func.attr)
    return names


def asserts_itself(node: ast.AST) -> bool:
    for child in ast.walk(node):
        if isinstance(child, ast.Assert):
            return True
        if (
            isinstance(child, ast.Call)
            and isinstance(child.func, ast.Attribute)
            and child.func.attr in CHECKERS
            and isinstance(child.func.value, ast.Name)
            and child.func.value.id == "pytest"
        ):
            return True
    return False


def asserting_helpers(trees: dict[Path, ast.Module]) -> set[str]:
    """Names of functions and methods under tests/ that assert, directly or through another."""
    functions: dict[str, list[ast.AST]] = {}
    for tree in trees.values():
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                functions.setdefault(node.name, []).append(node)
    asserting = {name for name, defs in functions.items() if any(map(asserts_itself, defs))}
    while True:
        more = {
            name
            for name, defs in functions.items()
            if name not in asserting and any(called_names(d) & asserting for d in defs)
        }
        if not more:
            return asserting
        asserting |= more


def each_test(trees):
    for path, tree in trees.items():
        if not path.name.startswith("test_"):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                yield path, node


def test_every_test_asserts_something():
    trees = modules()
    helpers = asserting_helpers(trees)
    tests = list(each_test(trees))
    silent = [
        f"{path.relative_to(TESTS.parent)}::{node.name}"
        for path, node in tests
        if not asserts_itself(node) and not called_names(node) & helpers
    ]
    assert len(tests) > 500, "the check found too few tests to be looking in the right place"
    assert not silent, "tests that assert nothing:\n" + "\n".join(silent)


def literal(iterable: ast.AST) -> bool:
    """A loop over items written out in the test (or a range of a constant) always runs."""
    if isinstance(iterable, ast.List | ast.Tuple | ast.Set | ast.Dict | ast.Constant):
        return True
    if isinstance(iterable, ast.Call) and isinstance(iterable.func, ast.Name):
        if iterable.func.id == "range" and all(isinstance(a, ast.Constant) for a in iterable.args):
            return True
        if iterable.func.id in ("enumerate", "zip", "sorted", "reversed") and iterable.args:
            return all(literal(argument) for argument in iterable.args)
    return False


def loops_that_may_not_run(node: ast.FunctionDef, helpers: set[str]):
    """Loops at the top level of a test whose body asserts, over something not written out,
    with no assertion after them in the test."""
    body = node.body
    for index, statement in enumerate(body):
        if not isinstance(statement, ast.For | ast.AsyncFor) or literal(statement.iter):
            continue
        inside = ast.Module(body=statement.body, type_ignores=[])
        if not (asserts_itself(inside) or called_names(inside) & helpers):
            continue
        after = ast.Module(body=body[index + 1 :], type_ignores=[])
        before = ast.Module(body=body[:index], type_ignores=[])
        if not (asserts_itself(after) or asserts_itself(before)):
            yield statement.lineno


def test_every_loop_that_asserts_is_checked_to_have_run():
    trees = modules()
    helpers = asserting_helpers(trees)
    unchecked = [
        f"{path.relative_to(TESTS.parent)}:{line} ({node.name})"
        for path, node in each_test(trees)
        for line in loops_that_may_not_run(node, helpers)
    ]
    assert not unchecked, "loops that assert, never checked to have run:\n" + "\n".join(unchecked)


def test_the_checks_can_fail():
    source = """
def test_silent(client):
    client.get("/")

def test_loop(rows):
    for row in rows:
        assert row

def test_fine(rows):
    assert rows
    for row in rows:
        assert row
"""
    trees = {TESTS / "test_example.py": ast.parse(source)}
    tests = {node.name: node for _, node in each_test(trees)}
    assert not asserts_itself(tests["test_silent"])
    assert list(loops_that_may_not_run(tests["test_loop"], set())) == [6]
    assert list(loops_that_may_not_run(tests["test_fine"], set())) == []


def test_no_test_imports_from_a_packages_conftest():
    """Shared fixtures and helpers live in tests/fixtures/ (fixtures registered as plugins in
    tests/conftest.py); a package's conftest.py is its own. tests/conftest.py's helpers
    (make_app, csrf_from, PASSWORD...) may still be imported."""
    offenders = []
    for path, tree in modules().items():
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                parts = node.module.split(".")
                names = {alias.name for alias in node.names}
                package_conftest = parts[-1] == "conftest" and len(parts) > 2
                if package_conftest or ("conftest" in names and len(parts) > 1):
                    offenders.append(f"{path.relative_to(TESTS.parent)}: from {node.module}")
    assert not offenders, "import these from tests/fixtures/ instead:\n" + "\n".join(offenders)


def test_the_hostile_strings_keep_one_of_every_kind_in_the_corpus(monkeypatch):
    """The bad-input tests send one string of each kind (tests/fixtures/patients.py): every
    kind the whole corpus holds is still sent, and the probes parsers trip on are there."""
    from tests.fixtures.patients import hostile_strings, kind_of

    chosen = hostile_strings()
    monkeypatch.setenv("SURVEY_TEST_FULL_CORPUS", "1")
    corpus = hostile_strings()
    assert len(chosen) < len(corpus) / 2
    assert {kind_of(text) for text in chosen} == {kind_of(text) for text in corpus}
    for probe in ("null", "None", "true", "NaN", "Infinity", "-1", "0", "1E2"):
        assert probe in chosen, probe
    assert any("<script>" in text for text in chosen)
    assert any("\u202e" in text for text in chosen)  # a right-to-left override
    assert any(any(ord(ch) > 0xFFFF for ch in text) for text in chosen)  # beyond the BMP
    assert any(len(text) > 255 for text in chosen)

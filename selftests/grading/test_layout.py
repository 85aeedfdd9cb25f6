"""The package's arrows (DESIGN.md, "Layout"), read from the source: what each part must never import."""

from __future__ import annotations

import ast

import pytest

from selftests.grading.conftest import ROOT

FORBIDDEN = {
    "server": ("embedlab.grading", "embedlab.instructor", "embedlab.worker", "embedlab.handle"),
    "grading": ("embedlab.instructor", "embedlab.worker"),  # the grading side reaches the worker only through its handle
    "worker": ("embedlab.grading", "embedlab.instructor", "embedlab.handle"),  # the learner's process: nothing of the grading one
    "handle": ("embedlab.grading", "embedlab.instructor", "embedlab.worker.inside", "embedlab.worker.start"),
}
# The channel's codec: both processes import it, so it imports neither.
CHANNEL = ROOT / "embedlab" / "wire.py"
CHANNEL_FORBIDDEN = ("embedlab.grading", "embedlab.instructor", "embedlab.worker", "embedlab.handle")


def imports(path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found += [(node.lineno, node.module)] + [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
    return found


@pytest.mark.parametrize("part", FORBIDDEN)
def test_a_part_never_imports_what_it_must_not(part):
    for path in sorted((ROOT / "embedlab" / part).rglob("*.py")):
        for line, name in imports(path):
            bad = [f for f in FORBIDDEN[part] if name == f or name.startswith(f + ".")]
            assert not bad, f"{path.relative_to(ROOT)}:{line} imports {name}, which embedlab/{part}/ must never import"


def test_the_channel_imports_neither_process():
    for line, name in imports(CHANNEL):
        assert not name.startswith(CHANNEL_FORBIDDEN), f"embedlab/wire.py:{line} imports {name}: the codec belongs to neither process"


def test_nothing_imports_the_solutions():
    for path in sorted((ROOT / "embedlab").rglob("*.py")):
        for line, name in imports(path):
            assert not (name == "solutions" or name.startswith("solutions.")), f"{path.relative_to(ROOT)}:{line} imports {name}"


def test_each_part_says_what_it_owns_and_must_not_import():
    for part in FORBIDDEN | {"instructor": ()}:
        doc = ast.get_docstring(ast.parse((ROOT / "embedlab" / part / "__init__.py").read_text())) or ""
        assert doc and ("never" in doc or "Nothing" in doc), f"embedlab/{part}/__init__.py should say what it owns and must never import"


def test_the_grading_tests_import_only_embedlab_testing():
    """One API for test authors: internals move without touching a test (issue 27)."""
    for path in sorted((ROOT / "tests").rglob("*.py")):
        for line, name in imports(path):
            if name.startswith("embedlab"):
                assert name == "embedlab.testing" or name.startswith("embedlab.testing."), (
                    f"{path.relative_to(ROOT)}:{line} imports {name}: a grading test imports only from embedlab.testing"
                )


def test_embedlab_testing_says_what_it_offers():
    import embedlab.testing as testing

    assert sorted(testing.__all__) == sorted(set(testing.__all__))
    for name in testing.__all__:
        assert hasattr(testing, name), f"embedlab.testing.__all__ names {name}, which it does not have"

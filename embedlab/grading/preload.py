"""What the grading process imports before any learner code runs, so that it never reads a module
file afterwards — a file the learner's code might have written, had it been able to.

The worker cannot write the interpreter, the venv or the kit where namespaces or another user
stand (`embedlab.handle.sandbox`); this is the wall for the rest: a module the grading process
loads lazily (numpy loads `numpy.random` on first use) would run whatever had been planted in its
file by then. The selftest `test_attacks.py` grades the solutions, the stubs and wrong answers
with `EMBEDLAB_IMPORT_AUDIT` set and checks that the list of modules imported after learner code
ran is empty.
"""

from __future__ import annotations

import importlib

MODULES = (
    "numpy", "numpy.random", "numpy.linalg", "httpx2", "vcr", "yaml", "json", "base64", "difflib", "pprint",
    "_pytest.assertion.util", "_pytest.assertion.truncate", "_pytest._io.saferepr",
    "hypothesis", "hypothesis.strategies", "hypothesis.core", "hypothesis.internal.conjecture.shrinker",
    "hypothesis.internal.conjecture.engine", "hypothesis.internal.reflection", "hypothesis.extra",
)  # fmt: skip


def everything() -> None:
    for name in MODULES:
        try:
            importlib.import_module(name)
        except ImportError:
            pass

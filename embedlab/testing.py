"""The one API a grading test imports: `from embedlab.testing import expect, fail, watch, ...`.

A test module under `tests/` imports nothing else of `embedlab` (a selftest checks it), so the
kit's internals move without touching a test. What a test gets:

- outcomes, in words:  `expect(condition, sentence)`, `fail(sentence)`, `attempt(function, ...)`
  (a call whose stub's NotImplementedError reads "not started"), `NotStarted`,
  `describe_exception(shown, err)`, and `brief(value)` / `a_or_an(word)` to write sentences;
- the worker:          `watch(argument)` (its state after the call comes back), `RemoteObject` (a
  value that stays in the worker), `fresh_worker(target)` (the next call in a new process);
- the channel:         `NO_RECORDING`, what a request no cassette holds is answered with;
- the section's data:  `DOCS`, `QUERY`, `DOG`, `TEN_SENTENCES`.

The fixtures (`target`, `api`, `synthetic_api`) come from the plugin, as pytest hands them over.
The synthetic servers (`tests/synthetic.py`), the independent numpy references
(`tests/reference.py`), the generated inputs (`tests/generated.py`) and the grader's code that
runs in the worker (`tests/in_the_worker.py`) are the course's own, beside its tests: an
instructor who adds an exercise adds its references there, never under `embedlab/`.
"""

from __future__ import annotations

from typing import Any

from embedlab.grading.outcomes import NotStarted, attempt, describe_exception, expect, fail
from embedlab.handle.values import RemoteObject, watch
from embedlab.section import DOCS, DOG, QUERY, TEN_SENTENCES
from embedlab.wire import NO_RECORDING
from embedlab.wording import a_or_an, brief

__all__ = [
    "DOCS",
    "DOG",
    "NO_RECORDING",
    "QUERY",
    "TEN_SENTENCES",
    "NotStarted",
    "RemoteObject",
    "a_or_an",
    "attempt",
    "brief",
    "describe_exception",
    "expect",
    "fail",
    "fresh_worker",
    "watch",
]


def fresh_worker(target: Any) -> None:
    """End `target`'s worker: the next call runs in a new process (a test of what survives one)."""
    target.fresh_worker()

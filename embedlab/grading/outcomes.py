"""How a grading test ends, in words a beginner reads: passed, failed (one sentence), not started.

Tests state their expectations with `expect(condition, sentence)`; a learner's function is called
through `attempt()` (or `Endpoint.call()`), which turns a stub's NotImplementedError into
`NotStarted` and any other exception into one sentence naming the learner's own line (the worker
sends it with the exception, see `embedlab.handle.learner`). The plugin maps these onto pytest reports,
so no traceback of the kit's machinery reaches the learner.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn

import pytest

from embedlab.wording import brief, short_text


class NotStarted(pytest.fail.Exception):
    """The learner's function is still the stub; the message is its hint.

    A pytest outcome, like `pytest.fail(..., pytrace=False)`: pytest shows the message and skips
    formatting a traceback nobody reads (a tenth of a second per test, for a whole fresh class).
    """

    def __init__(self, hint: str) -> None:
        super().__init__(hint, pytrace=False)

    def __str__(self) -> str:
        return self.msg


def fail(sentence: str, **facts: str) -> NoReturn:
    """Fail the test with this sentence: no traceback, and no exception it was handling.

    `facts` travel with it to the report (see `facts_of`): `raised`, the type of the exception the
    learner's code raised; `broken`, the learner's file that does not import.
    """
    __tracebackhide__ = True
    failure = pytest.fail.Exception(sentence, pytrace=False)
    failure.embedlab_facts = {k: v for k, v in facts.items() if v}
    raise failure from None


def facts_of(err: BaseException) -> dict[str, str]:
    """What `fail()` said about a failure beyond its sentence ({} for any other exception)."""
    facts = getattr(err, "embedlab_facts", None)
    return dict(facts) if isinstance(facts, dict) else {}


def expect(condition: Any, sentence: str) -> None:
    """Fail with `sentence` unless `condition` holds."""
    if not condition:
        fail(sentence)


def attempt(function: Callable, *args: Any, **kwargs: Any) -> Any:
    """Call a learner's function; a stub becomes NotStarted, an exception one readable sentence."""
    try:
        return function(*args, **kwargs)
    except NotImplementedError as err:
        raise NotStarted(str(err) or f"{function.__name__}() is not written yet.") from None
    except Exception as err:  # noqa: BLE001 - whatever the learner raised becomes one sentence
        shown = ", ".join(brief(getattr(a, "value", a) if type(a).__name__ == "Watched" else a) for a in args)
        fail_raised(f"{function.__name__}({shown})", err)


def fail_raised(shown: str, err: BaseException) -> NoReturn:
    """Fail the test because the learner's code raised `err`: the exception leads, and the report
    gives the exercise's hint with it."""
    __tracebackhide__ = True
    fail(describe_exception(shown, err), raised=kind_of(err))


def kind_of(err: BaseException) -> str:
    """The exception's type as the learner's code named it (`TypeError`, `BadRequestError`)."""
    return getattr(err, "learner_type", "") or type(err).__name__


def describe_exception(shown: str, err: BaseException) -> str:
    where = learner_location(err)
    kind = kind_of(err)
    message = short_text(str(err), 300)
    return f"{shown} raised {kind}" + (f": {message}" if message else "") + (f"\n  at {where}" if where else "")


def learner_location(err: BaseException) -> str | None:
    """'exercises/embed.py, line 23, in embed: <the line>': the deepest frame in the learner's files."""
    return getattr(err, "learner_location", None)

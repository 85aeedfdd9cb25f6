"""How a grading test ends, in words a beginner reads: passed, failed (one sentence), not started.

Tests state their expectations with `expect(condition, sentence)`; a learner's function is called
through `attempt()` (or `Endpoint.call()`), which turns a stub's NotImplementedError into
`NotStarted` and any other exception into one sentence naming the learner's own line (the worker
sends it with the exception, see `embedlab.worker.handle`). The plugin maps these onto pytest reports,
so no traceback of the kit's machinery reaches the learner.
"""

from __future__ import annotations

from typing import Any, Callable, NoReturn

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


def fail(sentence: str) -> NoReturn:
    """Fail the test with this sentence: no traceback, and no exception it was handling."""
    __tracebackhide__ = True
    raise pytest.fail.Exception(sentence, pytrace=False) from None


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
    except Exception as err:
        fail(describe_exception(f"{function.__name__}({', '.join(brief(a) for a in args)})", err))


def describe_exception(shown: str, err: BaseException) -> str:
    where = learner_location(err)
    kind = getattr(err, "learner_type", "") or type(err).__name__
    message = short_text(str(err), 300)
    return f"{shown} raised {kind}" + (f": {message}" if message else "") + (f"\n  at {where}" if where else "")


def learner_location(err: BaseException) -> str | None:
    """'exercises/embed.py, line 23, in embed: <the line>': the deepest frame in the learner's files."""
    return getattr(err, "learner_location", None)

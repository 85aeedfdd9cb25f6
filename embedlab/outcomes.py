"""How a grading test ends, in words a beginner reads: passed, failed (one sentence), not started.

Tests state their expectations with `expect(condition, sentence)`; a learner's function is called
through `attempt()` (or `Endpoint.call()`), which turns a stub's NotImplementedError into
`NotStarted` and any other exception into one sentence naming the learner's own line. The plugin
maps these onto pytest reports, so no traceback of the kit's machinery reaches the learner.
"""

from __future__ import annotations

import linecache
import traceback
from pathlib import Path
from typing import Any, Callable, NoReturn

import pytest

#: The folder whose files are the learner's (set by the plugin); frames there are "your code".
learner_dir: Path | None = None


class NotStarted(pytest.fail.Exception):
    """The learner's function is still the stub; the message is its hint.

    A pytest outcome, like `pytest.fail(..., pytrace=False)`: pytest shows the message and skips
    formatting a traceback nobody reads (a tenth of a second per test, for a whole fresh class).
    """

    def __init__(self, hint: str) -> None:
        super().__init__(hint, pytrace=False)

    def __str__(self) -> str:
        return self.msg


class TookTooLong(BaseException):
    """Raised by the per-test alarm. A BaseException, so a learner's `except Exception` can't eat it."""

    def __init__(self, seconds: float) -> None:
        super().__init__(seconds)
        self.seconds = seconds


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
        fail(describe_exception(f"{function.__name__}({', '.join(map(repr, args))})", err))


def describe_exception(shown: str, err: BaseException) -> str:
    where = learner_location(err)
    return f"{shown} raised {type(err).__name__}: {err}" + (f"\n  at {where}" if where else "")


def learner_location(err: BaseException) -> str | None:
    """'exercises/embed.py, line 23, in embed: <the line>' for the deepest frame in the learner's files."""
    if learner_dir is None:
        return None
    found = None
    for frame in traceback.extract_tb(err.__traceback__):
        path = Path(frame.filename)
        if path.is_relative_to(learner_dir):
            found = frame
    if found is None:
        return None
    shown = f"{learner_dir.name}/{Path(found.filename).relative_to(learner_dir)}"
    line = (found.line or linecache.getline(found.filename, found.lineno or 0)).strip()
    return f"{shown}, line {found.lineno}, in {found.name}: {line}"


def timeout_sentence(err: TookTooLong) -> str:
    where = learner_location(err)
    sentence = (
        f"Stopped after {err.seconds:g} s: the test did not finish. "
        "Is there a loop that never ends, or a call that waits forever?"
    )
    return sentence + (f"\n  It was running {where}" if where else "")

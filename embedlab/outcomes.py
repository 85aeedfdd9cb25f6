"""How a grading test ends, in words a beginner reads: passed, failed (one sentence), not started.

Tests state their expectations with `expect(condition, sentence)`; a learner's function is called
through `attempt()` (or `Endpoint.call()`), which turns a stub's NotImplementedError into
`NotStarted` and any other exception into one sentence naming the learner's own line (the worker
sends it with the exception, see `embedlab.learner`). The plugin maps these onto pytest reports,
so no traceback of the kit's machinery reaches the learner.
"""

from __future__ import annotations

from typing import Any, Callable, NoReturn

import pytest


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


def short_text(text: str, limit: int) -> str:
    """One line at most `limit` characters long: a wall of numbers becomes its start and a count."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + f"… ({len(text):,} characters)"


def brief(value: Any, limit: int = 60) -> str:
    """A value as a person would write it in a sentence: arrays and long lists by their size."""
    numpy = _numpy()
    if numpy is not None and isinstance(value, numpy.ndarray):
        if value.ndim == 1 and value.dtype.kind in "fiu":
            kind = "floats" if value.dtype.kind == "f" else "integers"
            first = ", ".join(f"{x:.3f}" if value.dtype.kind == "f" else str(x) for x in value[:2].tolist())
            return f"array of {len(value)} {kind} [{first}{', …' if len(value) > 2 else ''}]"
        return f"array of shape {value.shape} ({value.dtype})"
    if isinstance(value, (list, tuple)) and len(value) > 3 and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in value):
        first = ", ".join(f"{x:.3f}" if isinstance(x, float) else str(x) for x in value[:2])
        return f"[{first}, … {len(value)} numbers]"
    shown = repr(value)
    if len(shown) <= limit:
        return shown
    if isinstance(value, (list, tuple)) and value:
        return f"[{brief(value[0], 30)}, … {len(value)} items]"
    return shown[: limit - 1] + "…"


def _numpy():
    import sys

    return sys.modules.get("numpy")

"""What a test passes to the learner's code and gets back: the client handle, watched arguments,
values that stay in the worker, the grader's own code run there, and the learner's exceptions
rebuilt on this side (cut to a few KB) — with `CallFailed`, the sentence for a call that could not
be made or answered."""

from __future__ import annotations

import itertools
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from embedlab import wire

if TYPE_CHECKING:
    from embedlab.handle.learner import Learner

MESSAGE_KEPT = 4000  # characters of a learner's exception message kept (cut at this side)
LOCATION_KEPT = 1000


# -- what tests pass and get back ----------------------------------------------------------------


class ClientHandle:
    """The `client` a test passes to the learner's function: in the worker, a real openai client
    whose requests come back to `endpoint.forward()`."""

    _numbers = itertools.count(1)
    registry: weakref.WeakValueDictionary[int, ClientHandle] = weakref.WeakValueDictionary()

    def __init__(self, endpoint: Any, base_url: str, timeout: float) -> None:
        self.number = next(self._numbers)
        self.endpoint = endpoint
        self.spec = {"base_url": base_url, "timeout": timeout}
        self.registry[self.number] = self

    def __repr__(self) -> str:
        return "<the openai client the test passed>"


def client_number(value: Any) -> int | None:
    return value.number if isinstance(value, ClientHandle) else None


class LearnerRaised:
    """Mixed into every exception rebuilt from the worker: the learner's type name and line."""

    learner_type: str = ""
    learner_location: str | None = None
    message: str = ""
    details: dict

    def __str__(self) -> str:
        return self.message


_exception_types: dict[tuple[str, type], type] = {}


def rebuild_exception(described: dict) -> BaseException:
    """An exception the grading process can catch as the learner's type: a ValueError subclass for a
    ValueError, NotImplementedError for a stub; never a BaseException that would stop pytest
    (SystemExit, KeyboardInterrupt, pytest's own outcomes become plain Exceptions named so)."""
    import builtins

    described = trimmed(described)
    names = described["types"] or ["Exception"]
    base: type = Exception
    for name in names:
        candidate = getattr(builtins, name, None)
        if isinstance(candidate, type) and issubclass(candidate, Exception):
            base = candidate
            break
    shown = wire.opaque_type(names[0]).__name__  # a safe identifier
    key = (shown, base)
    if key not in _exception_types:
        try:
            _exception_types[key] = type(shown, (LearnerRaised, base), {"__module__": "learner"})
        except TypeError:  # a base that refuses mixing in
            _exception_types[key] = type(shown, (LearnerRaised, Exception), {"__module__": "learner"})
    cls = _exception_types[key]
    try:
        err = BaseException.__new__(cls)
    except TypeError:  # OSError and its kin make their instances themselves
        err = cls.__new__(cls)
    message = str(described.get("message", ""))
    err.args = (message,)
    err.message = message
    err.learner_type = names[0]
    err.learner_location = described.get("location") if isinstance(described.get("location"), str) else None
    err.details = described
    return err


def trimmed(described: Any) -> dict:
    """An exception's description from the worker, cut to a few KB: only the known fields, strings
    capped (a message of 30 MB would otherwise land in every report)."""
    if not isinstance(described, dict):
        return {"types": ["Exception"], "message": "", "location": None}

    def text(value: Any, limit: int) -> str | None:
        if not isinstance(value, str):
            return None
        return value if len(value) <= limit else value[: limit - 1] + "…"

    kept: dict[str, Any] = {
        "types": [n[:100] for n in described.get("types", []) if isinstance(n, str)][:12] if isinstance(described.get("types"), list) else [],
        "module": text(described.get("module"), 100) or "",
        "message": text(described.get("message"), MESSAGE_KEPT) or "",
        "location": text(described.get("location"), LOCATION_KEPT),
    }
    for key, limit in (("api_message", 500), ("exit_code", 80)):
        if isinstance(described.get(key), str):
            kept[key] = text(described[key], limit)
    if isinstance(described.get("status_code"), int):
        kept["status_code"] = described["status_code"]
    stuck = described.get("stuck")
    if isinstance(stuck, list) and len(stuck) == 2 and all(isinstance(p, str) for p in stuck):
        kept["stuck"] = [p[:200] for p in stuck]
    syntax = described.get("syntax")
    if isinstance(syntax, dict):
        kept["syntax"] = {
            "filename": text(syntax.get("filename"), 200),
            "lineno": syntax.get("lineno") if isinstance(syntax.get("lineno"), int) else None,
            "msg": text(syntax.get("msg"), 500),
        }
    return kept


@dataclass
class Watched:
    """An argument whose state after the call the test wants back in `value` (see `watch`)."""

    value: Any


def watch(value: Any) -> Watched:
    """Pass `watch(my_list)` to a learner's function, and `my_list` ends up as the learner's code
    left it: "leaves its arguments unchanged" stays testable. Only watched arguments are changed
    here — the test's own constants never are."""
    return Watched(value)


class CallFailed(BaseException):
    """The call could not be made or answered (an import error, a crash, a stub's hint): the
    sentence is the whole story. A BaseException, so a test's `except Exception` around the
    learner's call lets it through; the grading plugin turns it into a failed test with that
    sentence (the worker side knows nothing of pytest)."""

    def __init__(self, sentence: str, file: str | None = None) -> None:
        super().__init__(sentence)
        self.sentence = sentence
        self.file = file  # the learner's file that does not import, when that is why

    def __str__(self) -> str:
        return self.sentence


def fail(sentence: str, file: str | None = None) -> NoReturn:
    raise CallFailed(sentence, file) from None


class StoppedAfter(CallFailed):
    """A call ran past its time limit (the sentence says where it was)."""


@dataclass
class RemoteFunction:
    learner: Learner
    module: str
    name: str
    keep: str | None = None  # "objects": a result that is not data stays in the worker; "always": any result
    on: RemoteObject | None = None  # a method of this value, which lives in the worker
    grader: dict | None = None  # the grader's own code ({"name", "source"}), not the learner's

    @property
    def __name__(self) -> str:  # messages show `embed(...)` as for a real function
        return self.name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.learner.call(self, args, kwargs)

    def using_defaults(self, client: ClientHandle | None, model: str | None) -> Callable[..., Any]:
        """This function called with no client or model, while get_client() returns `client` and
        EMBED_MODEL is `model` — the configuration a learner's .env would give, set by the test."""
        defaults = {"client": wire.encode(client, clients=client_number) if client else None, "model": model}
        numbers = {client.number: client.spec} if client else {}

        def call(*args: Any, **kwargs: Any) -> Any:
            return self.learner.call(self, args, kwargs, defaults=defaults, extra_clients=numbers)

        call.__name__ = self.name
        return call


class RemoteObject:
    """A value that stays in the worker: what a learner's class makes (a function asked for with
    `objects=True`), or what the grader's own code built there (`keep=True`: a matrix too big for
    the pipe). Passed as an argument, the worker gets the object itself; `method(name)` calls one
    of its methods there. It lives as long as the worker it lives in (see `Learner.fresh_worker`)."""

    def __init__(self, learner: Learner, worker: Any, spec: dict) -> None:
        self.learner = learner
        self.worker = worker
        self.number = int(spec["id"])
        self.type_name = str(spec.get("type", "object"))[:80]
        self.shown = str(spec.get("repr", ""))[: wire.MAX_REPR + 10]
        weakref.finalize(self, learner.released.append, (worker, self.number))

    def __repr__(self) -> str:
        return self.shown

    @property
    def alive(self) -> bool:
        """Whether the process it lives in is still the learner's worker."""
        return self.worker is self.learner.current_worker and self.worker.alive()

    def method(self, name: str) -> RemoteFunction:
        return RemoteFunction(self.learner, self.type_name, name, keep="objects", on=self)


class GraderCode:
    """The grader's own module (a file of the tests, numpy and the standard library only), run in
    the worker beside the learner's code: a big input built where it is used, a reference answer
    timed in the same process as the learner's."""

    def __init__(self, learner: Learner, path: Path) -> None:
        self.learner = learner
        self.spec = {"name": Path(path).name, "source": Path(path).read_text(encoding="utf-8")}

    def function(self, name: str, *, keep: bool = False) -> RemoteFunction:
        return RemoteFunction(self.learner, f"<{self.spec['name']}>", name, keep="always" if keep else None, grader=self.spec)


def call_shown(name: str, args: tuple) -> str:
    from embedlab.wording import brief

    return f"{name}({', '.join(brief(a) for a in args)})"


def sync_argument(original: Any, after: Any) -> None:
    """Give the test's own argument the state the learner's code left it in."""
    try:
        if isinstance(original, list) and isinstance(after, list):
            original[:] = after
        elif isinstance(original, dict) and isinstance(after, dict):
            original.clear()
            original.update(after)
        elif isinstance(original, set) and isinstance(after, (set, frozenset)):
            original.clear()
            original.update(after)
        elif isinstance(original, bytearray) and isinstance(after, (bytes, bytearray)):
            original[:] = after
        elif hasattr(original, "shape") and getattr(after, "shape", None) == original.shape and original.flags.writeable:
            original[...] = after
    except (TypeError, ValueError):
        pass


def not_finite(value: Any, depth: int = 0) -> str | None:
    """'nan' or 'inf' if `value` holds one (in lists, tuples, dicts, sets, numpy arrays): a NaN
    compares false with every tolerance, so no check may ever see one as close."""
    import math

    if depth > 40:
        return None
    if isinstance(value, float) or type(value).__module__ == "numpy" and hasattr(value, "dtype") and getattr(value, "shape", None) == ():
        try:
            number = float(value)
        except (TypeError, ValueError):
            return None
        return None if math.isfinite(number) else ("nan" if number != number else "inf")
    if type(value).__module__ == "numpy" and hasattr(value, "dtype"):
        import numpy

        if value.dtype.kind in "fc" and not numpy.isfinite(value).all():
            return "nan" if numpy.isnan(value).any() else "inf"
        if value.dtype.kind == "O":
            value = value.ravel().tolist()
        else:
            return None
    if isinstance(value, dict):
        value = [*value.keys(), *value.values()]
    if isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            found = not_finite(item, depth + 1)
            if found:
                return found
    return None

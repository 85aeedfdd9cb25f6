"""What crosses between the grading process and the worker that runs the learner's code.

Frames: a 4-byte big-endian length, then that many bytes of UTF-8 JSON. Values inside a frame use
a typed, data-only encoding — never pickle, never anything that runs code when read:

    None, bool, str, int, float   as JSON (int and float keep their type; nan and inf included)
    list                          a JSON array
    {"$tuple": [...]}             tuple
    {"$set": [...]}               set / frozenset (decoded as a set or a frozenset)
    {"$dict": [[k, v], ...]}      dict, any encodable keys, in order
    {"$bytes": "<base64>"}        bytes
    {"$ndarray": {...}}           numpy array: dtype, shape and the raw little-endian bytes
    {"$npscalar": {...}}          numpy scalar (np.float32(1.0) stays an np.float32)
    {"$client": N}                the client a test passed (a real openai client in the worker)
    {"$remote": {...}}            a value that stays in the worker (a class instance, a big array):
                                  its number there, type name and short repr; only where asked
    {"$opaque": {...}}            anything else: its type name and a short repr, nothing more

The grading process reads whatever the worker sends as untrusted data: sizes, depths, dtypes and
type names are checked, and a value that breaks the rules decodes to an `Opaque`. What it reads is
bounded before any of it is parsed: a frame is at most `FRAME_LIMIT` bytes (a few MB;
`EMBEDLAB_FRAME_LIMIT` changes it) and holds at most `MAX_ITEMS` JSON values, and at most
`MAX_OPAQUE_TYPES` distinct type names are ever made into classes. A frame over a limit is a
`WireError`: the other side broke the protocol.
"""

from __future__ import annotations

import base64
import json
import math
import os
import re
import struct
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from typing import Any

MAX_FRAME = 64 * 1024 * 1024  # what the grading process sends (its own data)
FRAME_LIMIT = int(os.environ.get("EMBEDLAB_FRAME_LIMIT") or 8 * 1024 * 1024)  # what it accepts from the worker
MAX_ITEMS = 1_000_000  # JSON values in one frame from the worker (counted before parsing)
MAX_OPAQUE_TYPES = 512
MAX_DEPTH = 64
MAX_REPR = 300
# dtypes that hold plain numbers or text: an array of anything else travels as an Opaque
NUMERIC_KINDS = frozenset("biufcU")

_HEADER = struct.Struct(">I")
# what the grading process answers a forwarded request that no recording holds (tests look for it)
NO_RECORDING = "embedlab: the grader has no recording of this request"


@dataclass(frozen=True)
class WorkerConfig:
    """The worker's configuration, the first frame it reads: where the learner's files are, and
    which walls the grading process's plan says it must raise (checked against what it reports)."""

    directory: str  # the learner's folder, as the worker sees it
    package: str  # its name: the learner's modules are imported as package.module
    readonly: list[str]  # what Landlock lets it read
    cwd: str  # its scratch folder, the only place it may write
    block: str | None = None  # a package its code may not import (the solutions)
    namespaces: bool = False  # bubblewrap's namespaces stand around it
    userns: bool = False  # among them a user namespace of its own (the grader is not root)
    landlock: int = 0  # the Landlock ABI to raise (0: none)
    seccomp: bool = False  # raise the seccomp filter
    isolation: str = ""  # the walls in words, for the report

    def to_frame(self) -> dict:
        return asdict(self)

    @classmethod
    def from_frame(cls, frame: dict) -> WorkerConfig:
        """The configuration in the frame (from the grading process, which the worker trusts)."""
        return cls(**{f.name: frame[f.name] for f in fields(cls) if f.name in frame})


class WireError(Exception):
    """The other side sent something that is not a well-formed frame."""


# -- framing -------------------------------------------------------------------------------------


def send(fd: int, message: dict, limit: int = MAX_FRAME) -> None:
    _write_all(fd, frame(message, limit))


def frame(message: dict, limit: int = MAX_FRAME) -> bytes:
    """The bytes of one frame; a WireError if the other side would refuse it."""
    data = json.dumps(message, separators=(",", ":"), allow_nan=True).encode("utf-8")
    if len(data) > limit:
        raise WireError(f"a message of {len(data):,} bytes is over the {limit:,}-byte limit")
    if limit < MAX_FRAME and _items(data) > MAX_ITEMS:
        raise WireError(f"a message of more than {MAX_ITEMS:,} values")
    return _HEADER.pack(len(data)) + data


def _items(data: bytes) -> int:
    """An upper bound on the JSON values in `data`, counted in C without parsing it."""
    return data.count(b",") + data.count(b"[") + data.count(b"{") + 1


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


class Reader:
    """Reads frames from a file descriptor; `feed()`-style so a caller can select() on it first."""

    def __init__(self, fd: int, limit: int = MAX_FRAME) -> None:
        self.fd = fd
        self.limit = limit  # below MAX_FRAME: the other side is not trusted, values are counted too
        self.buffer = bytearray()
        self.closed = False

    def read_available(self) -> None:
        """One os.read (call it when select() says the fd is readable)."""
        try:
            chunk = os.read(self.fd, 1 << 20)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            chunk = b""
        if not chunk:
            self.closed = True
        self.buffer += chunk

    def next_frame(self) -> dict | None:
        """A complete frame from the buffer, or None if there is none yet."""
        if len(self.buffer) < _HEADER.size:
            return None
        (size,) = _HEADER.unpack_from(self.buffer)
        if size > self.limit:
            raise WireError(f"the other side announced a {size:,}-byte message (the limit is {self.limit:,})")
        if len(self.buffer) < _HEADER.size + size:
            return None
        data = bytes(self.buffer[_HEADER.size : _HEADER.size + size])
        del self.buffer[: _HEADER.size + size]
        if self.limit < MAX_FRAME and _items(data) > MAX_ITEMS:
            raise WireError(f"the other side sent a message of more than {MAX_ITEMS:,} values")
        try:
            message = json.loads(data)
        except (ValueError, RecursionError) as err:
            raise WireError(f"not JSON: {err}") from None
        if not isinstance(message, dict):
            raise WireError("a message must be a JSON object")
        return message

    def blocking_frame(self) -> dict | None:
        """The next frame, waiting for it; None at end of file."""
        while True:
            message = self.next_frame()
            if message is not None:
                return message
            if self.closed:
                return None
            self.read_available()


# -- values --------------------------------------------------------------------------------------


class Opaque:
    """A value the worker could not send as data: its type name and a short repr.

    Each learner type name gets its own subclass, so `type(value).__name__` reads as the learner's
    class ("Generator", "MyResult") in a failure message, and `repr()` shows the learner's repr.
    """

    type_name = "object"

    def __init__(self, shown: str) -> None:
        self.shown = shown

    def __repr__(self) -> str:
        return self.shown


_opaque_types: dict[str, type] = {}
_IDENTIFIER = re.compile(r"[^0-9A-Za-z_]")


def opaque_type(name: str) -> type:
    name = (name or "object")[:80]
    if name not in _opaque_types and len(_opaque_types) >= MAX_OPAQUE_TYPES:
        name = "object"  # no more classes: a worker could send millions of names
    if name not in _opaque_types:
        short = _IDENTIFIER.sub("_", name.rsplit(".", 1)[-1]) or "object"
        if short[0].isdigit():
            short = "_" + short
        _opaque_types[name] = type(short, (Opaque,), {"type_name": name})
    return _opaque_types[name]


def short_repr(value: Any, limit: int = MAX_REPR) -> str:
    try:
        shown = repr(value)
    except Exception as err:  # noqa: BLE001 - a learner's __repr__ may raise anything
        shown = f"<{type(value).__name__} whose repr() raised {type(err).__name__}>"
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


def _type_name(value: Any) -> str:
    kind = type(value)
    module = getattr(kind, "__module__", "") or ""
    name = getattr(kind, "__qualname__", kind.__name__)
    return name if module in ("builtins", "") else f"{module}.{name}"


def encode(
    value: Any,
    *,
    clients: Callable[[Any], int | None] | None = None,
    remotes: Callable[[Any], int | None] | None = None,
    _depth: int = 0,
) -> Any:
    """A JSON-ready form of `value`. `clients(value)` names the test clients to send as handles;
    `remotes(value)`, where given, numbers a value that is not data (instead of an `$opaque`)."""
    if _depth > MAX_DEPTH:
        return {"$opaque": {"type": _type_name(value), "repr": "<nested too deeply>"}}
    kind = type(value)
    if value is None or kind is bool or kind is str:
        return value
    if kind is int:
        return value
    if kind is float:
        return value if math.isfinite(value) else {"$float": repr(value)}
    if clients is not None:
        handle = clients(value)
        if handle is not None:
            return {"$client": handle}
    numpy = _numpy()
    if numpy is not None:
        if isinstance(value, numpy.ndarray):
            return _encode_array(numpy, value, clients, _depth)
        if isinstance(value, numpy.generic):
            dtype = value.dtype
            if dtype.kind in NUMERIC_KINDS:
                little = numpy.asarray(value).astype(dtype.newbyteorder("<"))
                return {"$npscalar": {"dtype": little.dtype.str, "data": _b64(little.tobytes())}}
            return {"$opaque": {"type": _type_name(value), "repr": short_repr(value)}}

    def inner(item: Any) -> Any:
        return encode(item, clients=clients, remotes=remotes, _depth=_depth + 1)

    if kind is list:
        return [inner(item) for item in value]
    if kind is tuple:
        return {"$tuple": [inner(item) for item in value]}
    if kind is dict:
        return {"$dict": [[inner(k), inner(v)] for k, v in value.items()]}
    if kind in (set, frozenset):
        return {"$set": [inner(item) for item in value], "frozen": kind is frozenset}
    if kind is bytes:
        return {"$bytes": _b64(value)}
    # subclasses of the plain types (an IntEnum, a str subclass) travel as their plain value
    for plain in (bool, int, float, str):
        if isinstance(value, plain):
            try:
                return encode(plain(value), clients=clients, remotes=remotes, _depth=_depth)
            except Exception:  # noqa: BLE001 - a subclass's conversion may raise anything: it travels as opaque
                break
    number = remotes(value) if remotes is not None else None
    if number is not None:
        return remote(number, value)
    return {"$opaque": {"type": _type_name(value), "repr": short_repr(value)}}


def remote(number: int, value: Any) -> dict:
    """`value`, kept where it is as number `number`: what the other side may call or pass back."""
    return {"$remote": {"id": number, "type": _type_name(value), "repr": short_repr(value)}}


def _encode_array(numpy, value, clients, depth: int) -> dict:
    dtype = value.dtype
    if dtype.kind in NUMERIC_KINDS and dtype.fields is None:
        data = numpy.ascontiguousarray(value).astype(dtype.newbyteorder("<"), copy=False)
        return {"$ndarray": {"dtype": data.dtype.str, "shape": list(value.shape), "data": _b64(data.tobytes())}}
    if dtype.kind == "O" and value.size <= 100_000:
        items = [encode(item, clients=clients, _depth=depth + 1) for item in value.ravel().tolist()]
        return {"$ndarray": {"dtype": "object", "shape": list(value.shape), "items": items}}
    return {"$opaque": {"type": "numpy.ndarray", "repr": short_repr(value)}}


class OverBudget(Exception):
    """Decoding a value from the worker took more items or time than its call had left."""


class Budget:
    """What decoding one reply may cost: `items` values, and until `deadline` (time.monotonic)."""

    CHECK_EVERY = 4096

    def __init__(self, items: int = MAX_ITEMS, deadline: float | None = None) -> None:
        self.items = items
        self.deadline = deadline
        self._until_check = self.CHECK_EVERY

    def spend(self, count: int = 1) -> None:
        self.items -= count
        if self.items < 0:
            raise OverBudget(f"more than {MAX_ITEMS:,} values")
        self._until_check -= count
        if self._until_check <= 0:
            self._until_check = self.CHECK_EVERY
            if self.deadline is not None and time.monotonic() > self.deadline:
                raise OverBudget("reading it took longer than the call had left")


MAX_SAME_HASH = 64  # items of one set (or keys of one dict) that may share a hash: more is an attack on the reader


def _hashed(items: list, budget: Budget | None) -> list:
    """`items`, if a set or dict of them costs linear time to build; else an OverBudget (items
    crafted to share a hash make every insertion walk all the others)."""
    if len(items) > MAX_SAME_HASH:
        counts: dict[int, int] = {}
        for item in items:
            key = hash(item)
            counts[key] = seen = counts.get(key, 0) + 1
            if seen > MAX_SAME_HASH:
                raise OverBudget("a set or dict whose items were made to share one hash")
        if budget is not None:
            budget.spend(len(items))
    return items


def decode(
    value: Any,
    *,
    clients: Callable[[int], Any] | None = None,
    remotes: Callable[[dict], Any] | None = None,
    budget: Budget | None = None,
    _depth: int = 0,
) -> Any:
    """The Python value of an encoded one; anything malformed becomes an Opaque. `remotes(spec)`
    turns a `$remote` into what stands for it here (without it, an Opaque of its type). With a
    `budget`, more items or time than it allows is an `OverBudget`."""
    if _depth > MAX_DEPTH + 2:
        return opaque_type("object")("<nested too deeply>")
    if budget is not None:
        budget.spend()
    if value is None or isinstance(value, (bool, str, int, float)):
        return value

    def inner(item: Any) -> Any:
        return decode(item, clients=clients, remotes=remotes, budget=budget, _depth=_depth + 1)

    if isinstance(value, list):
        return [inner(item) for item in value]
    if not isinstance(value, dict) or len(value) not in (1, 2):
        return opaque_type("object")("<malformed value>")
    try:
        if "$tuple" in value:
            return tuple(inner(item) for item in _list(value["$tuple"]))
        if "$set" in value:
            items = _hashed([inner(item) for item in _list(value["$set"])], budget)
            return frozenset(items) if value.get("frozen") else set(items)
        if "$dict" in value:
            pairs = [(inner(k), inner(v)) for k, v in (_pair(p) for p in _list(value["$dict"]))]
            _hashed([k for k, _ in pairs], budget)
            return dict(pairs)
        if "$float" in value:
            return float(str(value["$float"]))
        if "$bytes" in value:
            return base64.b64decode(str(value["$bytes"]), validate=True)
        if "$ndarray" in value:
            return _decode_array(value["$ndarray"], inner)
        if "$npscalar" in value:
            spec = value["$npscalar"]
            return _decode_array({"dtype": spec["dtype"], "shape": [], "data": spec["data"]}, inner)[()]
        if "$client" in value:
            if clients is None:
                raise ValueError("no clients here")
            return clients(int(value["$client"]))
        if "$remote" in value:
            spec = value["$remote"]
            if remotes is not None and isinstance(spec, dict) and type(spec.get("id")) is int:
                return remotes(spec)
            return opaque_type(str(spec.get("type", "object")))(str(spec.get("repr", ""))[: MAX_REPR + 10])
        if "$opaque" in value:
            spec = value["$opaque"]
            return opaque_type(str(spec.get("type", "object")))(str(spec.get("repr", ""))[: MAX_REPR + 10])
    except (TypeError, ValueError, KeyError, OverflowError, MemoryError):
        pass
    return opaque_type("object")("<malformed value>")


def _list(value: Any) -> list:
    if not isinstance(value, list):
        raise ValueError("expected a list")
    return value


def _pair(value: Any) -> tuple:
    if not isinstance(value, list) or len(value) != 2:
        raise ValueError("expected a pair")
    return value[0], value[1]


def _decode_array(spec: dict, inner):
    import numpy

    shape = tuple(int(n) for n in spec["shape"])
    if len(shape) > 32 or any(n < 0 for n in shape):
        raise ValueError("bad shape")
    count = math.prod(shape)
    if spec["dtype"] == "object":
        items = [inner(item) for item in _list(spec["items"])]
        if len(items) != count:
            raise ValueError("bad item count")
        array = numpy.empty(count, dtype=object)
        array[:] = items
        return array.reshape(shape)
    dtype = numpy.dtype(str(spec["dtype"]))
    if dtype.kind not in NUMERIC_KINDS or dtype.fields is not None or dtype.subdtype is not None:
        raise ValueError("not a plain numeric dtype")
    data = base64.b64decode(str(spec["data"]), validate=True)
    if len(data) != count * dtype.itemsize:
        raise ValueError("data does not match the shape")
    return numpy.frombuffer(data, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="), copy=True)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _numpy():
    import sys

    return sys.modules.get("numpy")  # never import it just to check a type: if absent, no value is numpy

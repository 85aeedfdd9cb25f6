"""The worker: the only process that imports the learner's files and runs their functions.

The grading process starts it (`embedlab.handle.learner`; its walls go up in `embedlab.worker.start`), sends it calls over a pipe in the data-only
encoding of `embedlab.wire`, and gets back results, exceptions and HTTP requests. The `client` a
test passes arrives here as a real `openai.OpenAI` whose transport forwards each request to the
grading process, which answers it (from the cassette, or the live endpoint) and logs it. So the
learner's code sees an ordinary client, and nothing it does here can reach the request log, the
points or the report.

Messages the worker reads:    resolve, call, http_reply, where
Messages the worker writes:   ready, resolved, result, error, http, here

A call may also name a value the worker keeps (`on`: a method of it), or the grader's own code
(`grader`: a module's source, run here beside the learner's so a big input is built where it is
used and a reference is timed in the same process); with `keep` its result stays here as a
`$remote` ("always", or "objects": what is not data) that later calls pass back or call.
"""

from __future__ import annotations

import base64
import itertools
import linecache
import os
import queue
import sys
import threading
import time
import traceback
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2

from embedlab import wire

PLACEHOLDER_KEY = "sk-the-grader-holds-the-real-key"
_exit = os._exit  # bound before any learner code runs, which may patch os


class Worker:
    def __init__(self, channel_in: int, channel_out: int, config: wire.WorkerConfig) -> None:
        self.reader = wire.Reader(channel_in)
        self.out = channel_out
        self.config = config
        self.directory = Path(config.directory)
        self._under = (os.path.normpath(config.directory) + os.sep, str(self.directory.resolve()) + os.sep)
        self._learners: dict[str, str | None] = {}
        self.package: str = config.package
        self.send_lock = threading.Lock()
        self.calls: queue.Queue[dict | None] = queue.Queue()
        self.replies: dict[int, queue.Queue] = {}
        self.replies_lock = threading.Lock()
        self.request_ids = itertools.count(1)
        self.clients: dict[int, Any] = {}
        self.client_specs: dict[int, dict] = {}
        self.modules: dict[str, Any] = {}
        self.kept: dict[int, Any] = {}  # values later calls name by number (see `keep`)
        self.kept_numbers = itertools.count(1)
        self.graders: dict[str, Any] = {}  # the grader's own modules, by name
        self.main_thread = threading.get_ident()

    # -- the channel -----------------------------------------------------------------------------

    def send(self, message: dict) -> None:
        """One frame to the grading process, never over what it accepts (a WireError instead)."""
        data = wire.frame(message, wire.FRAME_LIMIT)
        with self.send_lock:
            wire._write_all(self.out, data)

    def listen(self) -> None:
        """The reader thread: calls go to the main thread; replies to whoever waits; 'where' at once."""
        try:
            while True:
                message = self.reader.blocking_frame()
                if message is None:
                    break
                op = message.get("op")
                if op in ("call", "resolve"):
                    self.calls.put(message)
                elif op == "http_reply":
                    with self.replies_lock:
                        box = self.replies.get(message.get("id"))
                    if box is not None:
                        box.put(message)
                elif op == "where":
                    self.send({"op": "here", "id": message.get("id"), **self.where()})
        except Exception:  # noqa: BLE001 - a broken channel ends the worker either way
            pass
        _exit(0)  # the grading process went away, or the channel broke

    # -- calls -----------------------------------------------------------------------------------

    def serve(self) -> None:
        threading.Thread(target=self.listen, name="embedlab-channel", daemon=True).start()
        while True:
            message = self.calls.get()
            if message is None:
                return
            try:
                reply = self.resolve(message) if message["op"] == "resolve" else self.call(message)
            except BaseException as err:  # noqa: BLE001 - whatever the learner raised, including SystemExit
                reply = {"op": "error", "error": self.describe(err)}
            reply["id"] = message.get("id")
            try:
                self.send(reply)
            except wire.WireError as err:
                self.send({"op": "error", "id": message.get("id"), "error": _plain_error("AnswerTooLarge", str(err))})

    def module(self, name: str):
        if name not in self.modules:
            import importlib

            self.package_itself()
            self.modules[name] = importlib.import_module(f"{self.package}.{name}")
        return self.modules[name]

    def package_itself(self) -> None:
        """The learner's folder as the package, whatever else on sys.path bears its name: a folder
        without __init__.py would otherwise lose to any regular package called the same."""
        if self.package in sys.modules:
            return
        import importlib.util
        import types

        init = self.directory / "__init__.py"
        if init.is_file():
            spec = importlib.util.spec_from_file_location(self.package, init, submodule_search_locations=[str(self.directory)])
            package = importlib.util.module_from_spec(spec)
            sys.modules[self.package] = package
            try:
                spec.loader.exec_module(package)
            except BaseException:
                del sys.modules[self.package]
                raise
        else:
            package = types.ModuleType(self.package)
            package.__path__ = [str(self.directory)]
            package.__package__ = self.package
            sys.modules[self.package] = package

    def resolve(self, message: dict) -> dict:
        try:
            module = self.module(message["module"])
        except BaseException as err:  # noqa: BLE001 - a syntax error, an exit at import, anything
            return {"op": "resolved", "ok": False, "why": "import", "error": self.describe(err)}
        found = getattr(module, message["function"], None)
        if found is None:
            return {"op": "resolved", "ok": False, "why": "missing"}
        if not callable(found):
            return {"op": "resolved", "ok": False, "why": "not callable", "type": type(found).__name__}
        return {"op": "resolved", "ok": True}

    def call(self, message: dict) -> dict:
        for key, spec in (message.get("clients") or {}).items():
            self.client_specs[int(key)] = spec
        for number in message.get("release") or []:
            self.kept.pop(number, None)
        function = getattr(self.callee(message), message["function"])
        sent = message.get("args", [])
        args = wire.decode(sent, clients=self.client, remotes=self.kept_value)
        kwargs = wire.decode(message.get("kwargs", {"$dict": []}), clients=self.client, remotes=self.kept_value)
        with self.defaults(message.get("defaults")), self.refusing(message.get("stuck")):
            value = function(*args, **kwargs)
        after = [
            wire.encode(a) if (isinstance(a, (list, dict, set, bytearray)) or _is_array(a)) and not _is_remote(raw) else None
            for a, raw in zip(args, sent if isinstance(sent, list) else [])
        ]
        keep = message.get("keep")
        if keep == "always":
            return {"op": "result", "value": wire.remote(self.keep(value), value), "after": after}
        return {"op": "result", "value": wire.encode(value, remotes=self.keep if keep == "objects" else None), "after": after}

    def callee(self, message: dict):
        """What a call names its function in: a value kept here, the grader's code, or a learner module."""
        if message.get("on") is not None:
            return self.kept_value({"id": message["on"]})
        if message.get("grader"):
            return self.grader_module(message["grader"])
        return self.module(message["module"])

    def keep(self, value: Any) -> int:
        """Keep `value` here; its number (the same number for the same object)."""
        for number, kept in self.kept.items():
            if kept is value:
                return number
        number = next(self.kept_numbers)
        self.kept[number] = value
        return number

    def kept_value(self, spec: dict) -> Any:
        number = spec.get("id")
        if number not in self.kept:
            raise LookupError(f"the worker keeps no value number {number!r} (it was released, or lived in another worker)")
        return self.kept[number]

    def grader_module(self, spec: dict):
        """The grader's own module from its source (numpy and the standard library only): never on
        sys.path, so no learner file can stand in for it."""
        name = str(spec["name"])
        if name not in self.graders:
            import types

            module = types.ModuleType(f"embedlab_grader_{len(self.graders) + 1}")
            module.__file__ = f"<the grader's {name}>"
            exec(compile(str(spec["source"]), module.__file__, "exec"), module.__dict__)  # noqa: S102 - the grader's own code
            self.graders[name] = module
        return self.graders[name]

    def client(self, handle: int):
        """The real openai client for a test's client handle, made once, forwarding its HTTP."""
        if handle not in self.clients:
            import openai

            spec = self.client_specs.get(handle, {})
            self.clients[handle] = openai.OpenAI(
                base_url=spec.get("base_url", "https://embeddings.invalid/v1"),
                api_key=PLACEHOLDER_KEY,
                max_retries=0,  # a retry would hide how many requests the code made
                timeout=float(spec.get("timeout", 30.0)),
                http_client=openai.DefaultHttpxClient(transport=Forwarding(self, handle)),
            )
        return self.clients[handle]

    @contextmanager
    def defaults(self, defaults: dict | None):
        """For a call with no client or model: get_client() and EMBED_MODEL are the test's, for now."""
        if not defaults:
            yield
            return
        from embedlab import common

        client = self.client(int(defaults["client"]["$client"])) if defaults.get("client") else None
        values = {"get_client": (lambda: client), "EMBED_MODEL": defaults.get("model")}
        targets = [common, *(m for m in self.modules.values())]
        saved = [(t, name, t.__dict__[name]) for t in targets for name in values if name in t.__dict__]
        for target, name, _ in saved:
            setattr(target, name, values[name])
        try:
            yield
        finally:
            for target, name, value in saved:
                setattr(target, name, value)

    @contextmanager
    def refusing(self, stuck: list | None):
        """A learner function that already ran out of time ends this call as it is entered, so a
        caller of an endless loop (rank calling cosine) fails at once instead of waiting out the
        limit again. Only while something is stuck: a profile hook costs a little on every call."""
        if not stuck:
            yield
            return
        wanted = {(str(module).replace(".", "/") + ".py", str(name)) for module, name in stuck}
        seen: dict[Any, tuple | None] = {}

        def profile(frame, event, arg):
            if event == "call":
                code = frame.f_code
                if code not in seen:
                    key = (self.learner_path(code.co_filename), code.co_name)
                    seen[code] = key if key in wanted else None
                if seen[code] is not None:
                    raise AlreadyStuck(*seen[code])

        sys.setprofile(profile)
        try:
            yield
        finally:
            sys.setprofile(None)

    # -- reporting -------------------------------------------------------------------------------

    def learner_path(self, filename: str) -> str | None:
        """`filename` relative to the learner's folder, or None if it is not the learner's.

        Remembered per file: `where()` runs while the learner's code spins, and each system call
        there (as `Path.resolve()` makes, one per path component) waits for the busy thread to
        hand back the GIL, which turned one answer into seconds."""
        if filename not in self._learners:
            shown = None
            for path in (os.path.normpath(filename), os.path.realpath(filename)):
                under = next((u for u in self._under if path.startswith(u)), None)
                if under is not None:
                    shown = Path(path[len(under) :]).as_posix()
                    break
            self._learners[filename] = shown
        return self._learners[filename]

    def is_learners(self, filename: str) -> bool:
        return self.learner_path(filename) is not None

    def location(self, filename: str, lineno: int, name: str, line: str | None = None) -> str:
        shown = f"{self.package}/{self.learner_path(filename)}"
        text = (line if line is not None else linecache.getline(filename, lineno)).strip()
        return f"{shown}, line {lineno}, in {name}: {text}" if text else f"{shown}, line {lineno}, in {name}"

    def describe(self, err: BaseException) -> dict:
        """An exception as data: its type names (most specific first), message, and the learner's line."""
        found = None
        for frame in traceback.extract_tb(err.__traceback__):
            if self.is_learners(frame.filename):
                found = frame
        where = self.location(found.filename, found.lineno or 0, found.name, found.line) if found else None
        named = err.__dict__.get("embedlab_frame") if hasattr(err, "__dict__") else None  # set by embedlab.common
        if isinstance(named, tuple) and len(named) == 3 and isinstance(named[0], str) and self.is_learners(named[0]):
            where = self.location(named[0], int(named[1]), str(named[2]))
        if isinstance(err, SyntaxError) and err.filename and self.is_learners(err.filename):
            where = self.location(err.filename, err.lineno or 0, "<module>", err.text or "")
        try:
            message = str(err)
        except Exception:  # noqa: BLE001 - a learner's __str__ may raise anything
            message = f"<the {type(err).__name__}'s message could not be shown>"
        described = {
            "types": [c.__name__ for c in type(err).__mro__ if issubclass(c, BaseException)][:12],
            "module": type(err).__module__,
            "message": message[:4000],
            "location": where,
        }
        status = getattr(err, "status_code", None)
        if isinstance(status, int):
            described["status_code"] = status
            from embedlab.common import api_message

            described["api_message"] = api_message(err)[:500]
        if isinstance(err, AlreadyStuck):
            described["stuck"] = [err.module, err.name]
        if isinstance(err, SystemExit):
            described["exit_code"] = wire.short_repr(err.code, 80)
        if isinstance(err, SyntaxError):
            described["syntax"] = {"filename": Path(err.filename or "?").name, "lineno": err.lineno, "msg": err.msg}
        return described

    def where(self, samples: int = 5, pause: float = 0.02) -> dict:
        """The innermost learner frame that stayed on the main thread's stack across a few samples."""
        stacks = []
        for i in range(samples):
            frame = sys._current_frames().get(self.main_thread)
            stack = []
            while frame is not None:
                if self.is_learners(frame.f_code.co_filename):
                    stack.append((frame, frame.f_lineno))
                frame = frame.f_back
            stacks.append(stack[::-1])  # outermost first
            if i + 1 < samples:
                time.sleep(pause)
        if not stacks or not stacks[-1]:
            return {"location": None, "function": None}
        steady = None
        for frame, lineno in stacks[-1]:
            if all(any(f is frame for f, _ in stack) for stack in stacks):
                steady = (frame, lineno)
        frame, lineno = steady or stacks[-1][-1]
        code = frame.f_code
        return {"location": self.location(code.co_filename, lineno, code.co_name), "function": code.co_name}


class AlreadyStuck(BaseException):
    """Raised where the learner's code enters a function that already ran out of time (a
    BaseException, so the learner's `except Exception` lets it through)."""

    def __init__(self, file: str, name: str) -> None:
        super().__init__(f"{name}() in {file} already ran out of time")
        self.module = file.removesuffix(".py").replace("/", ".")
        self.name = name


def _plain_error(name: str, message: str) -> dict:
    return {"types": [name, "Exception", "BaseException"], "module": "embedlab", "message": message, "location": None}


def _is_remote(raw: Any) -> bool:
    return isinstance(raw, dict) and "$remote" in raw


def _is_array(value: Any) -> bool:
    numpy = sys.modules.get("numpy")
    return numpy is not None and isinstance(value, numpy.ndarray)


class Forwarding(httpx2.BaseTransport):
    """An httpx transport that hands each request to the grading process and waits for its answer."""

    def __init__(self, worker: Worker, handle: int) -> None:
        self.worker = worker
        self.handle = handle

    def handle_request(self, request):
        worker = self.worker
        number = next(worker.request_ids)
        box: queue.Queue = queue.Queue()
        with worker.replies_lock:
            worker.replies[number] = box
        try:
            worker.send(
                {
                    "op": "http",
                    "id": number,
                    "client": self.handle,
                    "method": request.method,
                    "url": str(request.url),
                    "headers": [[k, v] for k, v in request.headers.multi_items()],
                    "body": base64.b64encode(request.read()).decode("ascii"),
                }
            )
            reply = box.get()
        finally:
            with worker.replies_lock:
                worker.replies.pop(number, None)
        if reply.get("error") == "timeout":
            raise httpx2.ReadTimeout(str(reply.get("message", "timed out")), request=request)
        if reply.get("error"):
            raise httpx2.ConnectError(str(reply.get("message", "could not connect")), request=request)
        return httpx2.Response(
            int(reply["status"]),
            headers=[(str(k), str(v)) for k, v in reply.get("headers", [])],
            content=base64.b64decode(reply.get("body", "")),
            request=request,
        )

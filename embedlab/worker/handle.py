"""The learner's code as the grading process sees it: functions that run in a worker process.

`Learner(directory)` stands for one folder of exercise files. `learner.function("embed", "embed")`
is a `RemoteFunction`: calling it sends the call to the worker (`embedlab.worker.inside`), answers the
HTTP requests the learner's client makes on the way (through the endpoint that made the client
handle), and returns the result as real Python and numpy values — or raises the learner's
exception, rebuilt with its type name, message and line. The grading process never imports the
learner's files, so nothing they do changes a result.

Time limits and crashes belong to the grading process: a call that runs past its limit is asked
where it is, then the worker is killed and the next call gets a fresh one; that function's later
calls fail at once with the same sentence. A worker that dies (os._exit, a segfault, the memory
limit) fails the call that was running, and nothing else.
"""

from __future__ import annotations

import itertools
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from embedlab.worker import walls
from embedlab.worker import wire

START_TIMEOUT = 30.0
WHERE_TIMEOUT = 5.0  # only waited out in full when the worker cannot answer; a busy machine can take seconds
OUTPUT_SHOWN = 2000  # characters of a call's printed output attached to the test


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


def _client_number(value: Any) -> int | None:
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

    names = [str(n) for n in described.get("types", []) if isinstance(n, str)] or ["Exception"]
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
    err = BaseException.__new__(cls)
    message = str(described.get("message", ""))
    err.args = (message,)
    err.message = message
    err.learner_type = names[0]
    err.learner_location = described.get("location") if isinstance(described.get("location"), str) else None
    err.details = described
    return err


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

    def __init__(self, sentence: str) -> None:
        super().__init__(sentence)
        self.sentence = sentence

    def __str__(self) -> str:
        return self.sentence


def fail(sentence: str):
    raise CallFailed(sentence) from None


class StoppedAfter(CallFailed):
    """A call ran past its time limit (the sentence says where it was)."""


@dataclass
class RemoteFunction:
    learner: Learner
    module: str
    name: str

    @property
    def __name__(self) -> str:  # messages show `embed(...)` as for a real function
        return self.name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.learner.call(self, args, kwargs)

    def using_defaults(self, client: ClientHandle | None, model: str | None) -> Callable[..., Any]:
        """This function called with no client or model, while get_client() returns `client` and
        EMBED_MODEL is `model` — the configuration a learner's .env would give, set by the test."""
        defaults = {"client": wire.encode(client, clients=_client_number) if client else None, "model": model}
        numbers = {client.number: client.spec} if client else {}

        def call(*args: Any, **kwargs: Any) -> Any:
            return self.learner.call(self, args, kwargs, defaults=defaults, extra_clients=numbers)

        call.__name__ = self.name
        return call


# -- the grading process's side ------------------------------------------------------------------


class WorkerDied(Exception):
    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


class _TimedOut(Exception):
    def __init__(self, where: dict) -> None:
        super().__init__("timed out")
        self.where = where


@dataclass
class Learner:
    directory: Path
    timeout: float = 20.0
    readonly: list[Path] = field(default_factory=list)
    hidden: list[Path] = field(default_factory=list)
    block: str | None = None  # a package the learner's code may not import
    isolate: bool = True

    def __post_init__(self) -> None:
        self.directory = Path(self.directory).resolve()
        self.package = self.directory.name
        self._worker: WorkerProcess | None = None
        self._resolved: dict[tuple[str, str], str | None] = {}
        self._import_errors: dict[str, str] = {}
        self.stuck: dict[tuple[str, str], str] = {}
        self._printed_before = 0
        self.isolation = "not started"
        self._scratch = Path(tempfile.mkdtemp(prefix="embedlab-worker-"))

    # -- the worker ------------------------------------------------------------------------------

    def launch(self) -> None:
        """Fork a worker now, if none is running, without waiting for it: it warms up (imports
        numpy and openai) while this process goes on collecting the tests."""
        if self._worker is not None and self._worker.alive():
            return
        self.drop_worker()
        self._worker = WorkerProcess.start(self._config())

    def _config(self) -> dict:
        return {
            "directory": str(self.directory),
            "package": self.package,
            "readonly": [str(p) for p in self.readonly],
            "hidden": [str(p) for p in self.hidden],
            "block": self.block,
            "isolate": self.isolate,
            "cwd": str(self._scratch),
        }

    def worker(self) -> WorkerProcess:
        """A running, warmed-up worker (a fresh one after a kill or a crash)."""
        self.launch()
        assert self._worker is not None
        try:
            self._worker.wait_ready()
        except WorkerDied:
            self.drop_worker()
            if not self.isolate:
                raise
            self.isolate = False  # the namespaces went half-way: fall back to the in-process walls
            self.launch()
            assert self._worker is not None
            self._worker.wait_ready()
        self.isolation = self._worker.isolation
        return self._worker

    def drop_worker(self) -> None:
        if self._worker is not None:
            self._worker.kill()
            self._printed_before += self._worker.printed_total
            self._worker = None

    @property
    def printed(self) -> int:
        """Bytes the learner's code printed, all calls together."""
        return self._printed_before + (self._worker.printed_total if self._worker else 0)

    def close(self) -> None:
        self.drop_worker()
        walls.sweep()
        import shutil

        shutil.rmtree(self._scratch, ignore_errors=True)

    # -- resolving and calling -------------------------------------------------------------------

    def function(self, module: str, name: str) -> RemoteFunction:
        """The learner's `module.name`. Checked when first called, so a missing function or a file
        that does not import fails the test that calls it (a failure, not an error in setup)."""
        return RemoteFunction(self, module, name)

    def resolve(self, module: str, name: str) -> None:
        """Fail the test, in one sentence, unless the learner's `module.name` is a function."""
        file = f"{self.package}/{module}.py"
        if module in self._import_errors:
            fail(self._import_errors[module])
        key = (module, name)
        if key not in self._resolved:
            try:
                reply = self.worker().request({"op": "resolve", "module": module, "function": name}, self.timeout, _no_http)
            except _TimedOut as stuck:
                self.drop_worker()
                sentence = f"{file} did not finish importing within {self.timeout:g} s"
                where = stuck.where.get("location")
                self._import_errors[module] = sentence + (f": it was running {where}" if where else "")
                fail(self._import_errors[module])
            except WorkerDied as died:
                self.drop_worker()
                self._import_errors[module] = f"{file} could not be imported: importing it ended the process ({died.description})"
                fail(self._import_errors[module])
            if reply.get("ok"):
                self._resolved[key] = None
            elif reply.get("why") == "import":
                err = reply.get("error") or {}
                self._import_errors[module] = _import_sentence(file, err)
                fail(self._import_errors[module])
            elif reply.get("why") == "not callable":
                self._resolved[key] = f"{file} defines {name}, but as a {reply.get('type')}, not a function"
            else:
                self._resolved[key] = f"{file} has no function {name}(): did it get renamed or deleted?"
        if self._resolved[key]:
            fail(self._resolved[key])

    def call(
        self,
        function: RemoteFunction,
        args: tuple,
        kwargs: dict,
        *,
        defaults: dict | None = None,
        extra_clients: dict[int, dict] | None = None,
    ) -> Any:
        key = (function.module, function.name)
        if key in self.stuck:
            raise StoppedAfter(self.stuck[key])
        self.resolve(function.module, function.name)
        handles: dict[int, dict] = dict(extra_clients or {})

        def number(value: Any) -> int | None:
            found = _client_number(value)
            if found is not None:
                handles[found] = value.spec
            return found

        watched = [a for a in args if isinstance(a, Watched)]
        args = tuple(a.value if isinstance(a, Watched) else a for a in args)
        message = {
            "op": "call",
            "module": function.module,
            "function": function.name,
            "args": wire.encode(list(args), clients=number),
            "kwargs": wire.encode(dict(kwargs), clients=number),
            "defaults": defaults,
        }
        message["clients"] = {str(k): v for k, v in handles.items()}
        if self.stuck:
            message["stuck"] = [list(k) for k in self.stuck]
        worker = self.worker()
        worker.output.clear()
        try:
            reply = worker.request(message, self.timeout, _forward)
        except _TimedOut as stuck:
            self.drop_worker()
            sentence = stopped_sentence(self.timeout, stuck.where.get("location"))
            self.stuck[key] = sentence
            inner = _module_of(stuck.where.get("location"), self.package)
            if inner and stuck.where.get("function"):
                self.stuck.setdefault((inner, stuck.where["function"]), sentence)
            raise StoppedAfter(sentence) from None
        except WorkerDied as died:
            self.drop_worker()
            fail(f"{_shown(function.name, args)} ended the whole process: {died.description}. Nothing after it could run.")
        finally:
            self._show_output(worker)
        if reply.get("op") == "error":
            stuck = (reply.get("error") or {}).get("stuck")
            if isinstance(stuck, list) and tuple(stuck) in self.stuck:
                raise StoppedAfter(self.stuck[tuple(stuck)])
            raise rebuild_exception(reply.get("error") or {})
        for original, after in zip(args, reply.get("after") or []):
            if after is not None and any(w.value is original for w in watched):
                _sync(original, wire.decode(after))
        return wire.decode(reply.get("value"))

    def _show_output(self, worker: WorkerProcess) -> None:
        """What the call printed goes to pytest's captured output of the test (shortened)."""
        data = bytes(worker.output)
        if not data:
            return
        text = data.decode("utf-8", "replace")
        if len(text) > OUTPUT_SHOWN:
            text = text[:OUTPUT_SHOWN] + f"\n… ({len(data):,} bytes in all)\n"
        sys.stdout.write(text)


def _no_http(frame: dict) -> dict:
    return {"error": "connect", "message": "no request can be made while a file is imported"}


def _forward(frame: dict) -> dict:
    handle = ClientHandle.registry.get(frame.get("client"))  # type: ignore[arg-type]
    if handle is None:
        return {"error": "connect", "message": "this client belongs to a test that has finished"}
    return handle.endpoint.forward(frame)


def _module_of(location: str | None, package: str) -> str | None:
    if not location or not location.startswith(package + "/"):
        return None
    return location.split(",", 1)[0][len(package) + 1 :].removesuffix(".py").replace("/", ".")


def _shown(name: str, args: tuple) -> str:
    from embedlab.wording import brief

    return f"{name}({', '.join(brief(a) for a in args)})"


def _sync(original: Any, after: Any) -> None:
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


def _import_sentence(file: str, err: dict) -> str:
    kind = (err.get("types") or ["Exception"])[0]
    if kind == "SystemExit":
        return f"{file} could not be imported: it calls sys.exit({err.get('exit_code', '')}) when it is imported"
    if kind in ("SyntaxError", "IndentationError", "TabError"):
        syntax = err.get("syntax") or {}
        where = err.get("location") or f"{file}, line {syntax.get('lineno')}"
        return f"{file} has a {kind}: {syntax.get('msg', err.get('message', ''))}\n  at {where}"
    where = err.get("location")
    return f"{file} could not be imported: {kind}: {str(err.get('message', ''))[:300]}" + (f"\n  at {where}" if where else "")


def stopped_sentence(seconds: float, where: str | None) -> str:
    sentence = f"Stopped after {seconds:g} s: the test did not finish. Is there a loop that never ends, or a call that waits forever?"
    return sentence + (f"\n  It was running {where}" if where else "")


class WorkerProcess:
    """One worker process and its three pipes: calls in, messages out, printed output out."""

    def __init__(self, pid: int, to_worker: int, from_worker: int, output: int, popen: subprocess.Popen | None = None) -> None:
        self.pid = pid
        self.to_worker = to_worker
        self.reader = wire.Reader(from_worker)
        self.output_fd = output
        self.popen = popen
        self.output = bytearray()  # the printed output, capped
        self.printed_total = 0
        self.status: int | None = None
        self.isolation = "unknown"
        self.ready = False
        self._asks = itertools.count(1)
        for fd in (from_worker, output):
            os.set_blocking(fd, False)

    @classmethod
    def start(cls, config: dict) -> WorkerProcess:
        """Fork (or spawn) the worker; `wait_ready()` before the first request."""
        if hasattr(os, "fork"):
            return cls._fork(config)
        return cls._spawn(config)  # pragma: no cover - Windows

    def wait_ready(self) -> None:
        if self.ready:
            return
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            message = self._next(deadline)
            if message is None:
                self.kill()
                raise WorkerDied("the worker did not start")
            if message.get("op") == "ready":
                self.isolation = str(message.get("isolation"))
                self.ready = True
                return

    @classmethod
    def _fork(cls, config: dict) -> WorkerProcess:
        from embedlab.worker import inside as worker_module

        calls_r, calls_w = os.pipe()
        replies_r, replies_w = os.pipe()
        output_r, output_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the worker
            try:
                os.close(calls_w)
                os.close(replies_r)
                os.close(output_r)
                worker_module.run(calls_r, replies_w, output_w, config)
            finally:
                os._exit(71)
        for fd in (calls_r, replies_w, output_w):
            os.close(fd)
        return cls(pid, calls_w, replies_r, output_r)

    @classmethod
    def _spawn(cls, config: dict) -> WorkerProcess:  # pragma: no cover - Windows
        popen = subprocess.Popen(
            [sys.executable, "-m", "embedlab.worker"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        worker = cls(popen.pid, popen.stdin.fileno(), popen.stdout.fileno(), popen.stderr.fileno(), popen)
        wire.send(worker.to_worker, config)
        return worker

    # -- talking ---------------------------------------------------------------------------------

    def alive(self) -> bool:
        if self.status is not None:
            return False
        self._poll_status(block=False)
        return self.status is None and not self.reader.closed

    def request(self, message: dict, timeout: float, on_http: Callable[[dict], dict]) -> dict:
        number = next(self._asks)
        message = {**message, "id": number}
        try:
            wire.send(self.to_worker, message)
        except OSError:
            raise WorkerDied(self.describe_end()) from None
        deadline = time.monotonic() + timeout
        while True:
            reply = self._next(deadline)
            if reply is None:
                if time.monotonic() >= deadline and self.alive():
                    raise _TimedOut(self.where())
                raise WorkerDied(self.describe_end())
            op = reply.get("op")
            if op == "http":
                answer = on_http(reply)
                try:
                    wire.send(self.to_worker, {"op": "http_reply", "id": reply.get("id"), **answer})
                except OSError:
                    raise WorkerDied(self.describe_end()) from None
            elif reply.get("id") == number and op in ("result", "error", "resolved"):
                return reply

    def where(self) -> dict:
        """Ask the stuck worker what it is running (its channel thread answers)."""
        number = f"where-{next(self._asks)}"
        try:
            wire.send(self.to_worker, {"op": "where", "id": number})
        except OSError:
            return {}
        deadline = time.monotonic() + WHERE_TIMEOUT
        while True:
            reply = self._next(deadline)
            if reply is None:
                return {}
            if reply.get("op") == "here" and reply.get("id") == number:
                return {k: v for k, v in reply.items() if k in ("location", "function") and isinstance(v, str)}
            if reply.get("op") == "http":  # a request still in flight: it will not be answered
                continue

    def _next(self, deadline: float) -> dict | None:
        """The next message, draining printed output meanwhile; None at the deadline or end of file."""
        while True:
            try:
                message = self.reader.next_frame()
            except wire.WireError:
                self.kill()
                return None
            if message is not None:
                return message
            if self.reader.closed:
                return None
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            readable, _, _ = select.select([self.reader.fd, self.output_fd], [], [], remaining)
            if self.output_fd in readable:
                self._drain_output()
            if self.reader.fd in readable:
                self.reader.read_available()

    def _drain_output(self) -> None:
        while True:
            try:
                chunk = os.read(self.output_fd, 1 << 16)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            if not chunk:
                return
            self.printed_total += len(chunk)
            room = 256 * 1024 - len(self.output)
            if room > 0:
                self.output += chunk[:room]

    # -- ending ----------------------------------------------------------------------------------

    def _poll_status(self, block: bool) -> None:
        if self.status is not None:
            return
        try:
            if self.popen is not None:  # pragma: no cover - Windows
                code = self.popen.wait() if block else self.popen.poll()
                if code is not None:
                    self.status = code if code >= 0 else (-code) << 8 | 0x80
                return
            pid, status = os.waitpid(self.pid, 0 if block else os.WNOHANG)
        except ChildProcessError:
            self.status = 0
            return
        if pid == self.pid:
            self.status = status

    def describe_end(self) -> str:
        """How the worker ended, in words: 'signal 11, segmentation fault', 'exit code 3'."""
        deadline = time.monotonic() + 2.0
        while self.status is None and time.monotonic() < deadline:
            self._poll_status(block=False)
            if self.status is None:
                time.sleep(0.01)
        if self.status is None:
            self.kill()
            return "it stopped answering"
        self._drain_output()
        return describe_status(self.status)

    def kill(self) -> None:
        if self.status is None:
            walls.kill_tree(self.pid)
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError, OSError, AttributeError):
                pass
            self._poll_status(block=True)
        for fd in (self.to_worker, self.reader.fd, self.output_fd):
            try:
                os.close(fd)
            except OSError:
                pass


def describe_status(status: int) -> str:
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        name = {
            signal.SIGSEGV: "segmentation fault",
            signal.SIGKILL: "killed — perhaps it ran out of memory",
            signal.SIGABRT: "aborted",
            getattr(signal, "SIGBUS", -1): "bus error",
            getattr(signal, "SIGFPE", -1): "arithmetic error",
        }.get(number) or (signal.strsignal(number) or "").lower()
        return f"signal {number}, {name}" if name else f"signal {number}"
    if os.WIFEXITED(status):
        return f"it exited with code {os.WEXITSTATUS(status)} (os._exit() or a crash)"
    return f"status {status}"

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

import base64
import itertools
import json
import os
import shutil
import sys
import tempfile
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from embedlab.worker import walls
from embedlab.worker import wire
from embedlab.worker.process import ChannelBroken, TimedOut, WorkerDied, WorkerProcess, describe_status  # noqa: F401

OUTPUT_SHOWN = 2000  # characters of a call's printed output attached to the test
MESSAGE_KEPT = 4000  # characters of a learner's exception message kept (cut at this side)
LOCATION_KEPT = 1000
MAX_INPUTS = 2048  # what OpenAI's endpoint takes in one request: more is answered 400, unread
MAX_TOKENS = 300_000
BREACH = "your code wrote to the grader's channel"
IMPORT_AUDIT_ENV = "EMBEDLAB_IMPORT_AUDIT"  # a file: modules the grading process imported after learner code ran


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


def fail(sentence: str, file: str | None = None):
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
        defaults = {"client": wire.encode(client, clients=_client_number) if client else None, "model": model}
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
        weakref.finalize(self, learner._released.append, (worker, self.number))

    def __repr__(self) -> str:
        return self.shown

    @property
    def alive(self) -> bool:
        """Whether the process it lives in is still the learner's worker."""
        return self.worker is self.learner._worker and self.worker.alive()

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


# -- the grading process's side ------------------------------------------------------------------


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
        self._culprits: dict[str, str] = {}  # module -> the learner's file whose import broke it
        self._broken: dict[str, str] = {}  # that file -> what broke, in one sentence
        self._probing: set[str] = set()
        self.stuck: dict[tuple[str, str], str] = {}
        self._printed_before = 0
        self.isolation = "not started"
        self._scratch = Path(tempfile.mkdtemp(prefix="embedlab-worker-"))
        if os.environ.get(walls.NO_NAMESPACES_ENV, "") not in ("", "0"):
            self.isolate = False
        self._imported_before: set[str] | None = None  # sys.modules when learner code first ran
        self._released: list[tuple[Any, int]] = []  # RemoteObjects gone here: the worker may drop them
        self.last_call = CallTiming()
        self._user, self._why_no_user = self._choose_user()

    # -- the worker ------------------------------------------------------------------------------

    def _choose_user(self) -> tuple[tuple[int, int, str] | None, str | None]:
        """The unprivileged user the worker becomes when this process is root — if that user can
        read everything the worker imports. Its folder is then its own, with a copy of the files."""
        user = walls.worker_user()
        if user is None:
            return None, None
        uid, gid, name = user
        blocked = walls.unreachable(walls.worker_needs(), uid, gid)
        if blocked is not None:
            return None, f"as root, but user {name} could not read {blocked}"
        copy = self._scratch / "learner" / self.package
        _copy_tree(self.directory, copy)
        os.chmod(self._scratch / "learner", 0o755)
        os.chown(self._scratch, uid, gid)
        return user, None

    def launch(self) -> None:
        """Fork a worker now, if none is running, without waiting for it: it warms up (imports
        numpy and openai) while this process goes on collecting the tests."""
        if self._worker is not None and self._worker.alive():
            return
        self.drop_worker()
        walls.become_subreaper()  # the worker's init, and whatever it detaches, come back to us
        walls.dumpable(False)  # a worker of our own user cannot ptrace us or open our /proc fds
        self._worker = WorkerProcess.start(self._config())

    def _config(self) -> dict:
        directory = self._scratch / "learner" / self.package if self._user else self.directory
        return {
            "directory": str(directory),
            "package": self.package,
            "readonly": [str(p) for p in walls.readonly_paths(self.readonly)],
            "hidden": [str(p) for p in self.hidden],
            "writable": [str(self._scratch), tempfile.gettempdir()],
            "block": self.block,
            "isolate": self.isolate,
            "cwd": str(self._scratch),
            "user": list(self._user) if self._user else None,
            "why_no_user": self._why_no_user,
            "why_off": getattr(self, "_why_off", None),
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
            self._why_off = "they could not be set up"
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
        shutil.rmtree(self._scratch, ignore_errors=True)
        audit = os.environ.get(IMPORT_AUDIT_ENV)
        if audit:
            with open(audit, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(self.imported_after_learner()) + "\n")

    def imported_after_learner(self) -> list[str]:
        """Modules this process imported from files after the learner's code first ran: each is a
        file a worker could have planted, had it been writable (there should be none)."""
        if self._imported_before is None:
            return []
        return sorted(n for n, m in list(sys.modules.items()) if n not in self._imported_before and getattr(m, "__file__", None))

    # -- resolving and calling -------------------------------------------------------------------

    def function(self, module: str, name: str, *, objects: bool = False) -> RemoteFunction:
        """The learner's `module.name`. Checked when first called, so a missing function or a file
        that does not import fails the test that calls it (a failure, not an error in setup).
        With `objects=True`, a result that is not data (an instance of the learner's class) stays
        in the worker and comes back as a `RemoteObject`."""
        return RemoteFunction(self, module, name, keep="objects" if objects else None)

    def grader_code(self, path: Path) -> GraderCode:
        """The grader's module at `path`, to run in the worker (see `GraderCode`)."""
        return GraderCode(self, path)

    def fresh_worker(self) -> None:
        """End the worker; the next call gets a new process (a test of what survives one)."""
        self.drop_worker()
        self.launch()

    def scratch_folder(self, name: str) -> Path:
        """A new empty folder the worker may write in (under its own scratch folder), the same
        path on both sides: where a test lets the learner's code keep files."""
        folder = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=self._scratch))
        info = self._scratch.stat()
        if (info.st_uid, info.st_gid) != (os.getuid(), os.getgid()):
            os.chown(folder, info.st_uid, info.st_gid)  # the worker's own user, as its scratch folder
        return folder

    def resolve(self, module: str, name: str) -> None:
        """Fail the test, in one sentence, unless the learner's `module.name` is a function."""
        file = f"{self.package}/{module}.py"
        if module in self._import_errors:
            self._import_failed(module)
        key = (module, name)
        if key not in self._resolved:
            worker = self.worker()
            if self._imported_before is None:
                self._imported_before = set(sys.modules)
            try:
                reply = worker.request({"op": "resolve", "module": module, "function": name}, self.timeout, _no_http)
            except ChannelBroken:
                self.drop_worker()
                self._import_errors[module] = f"{file} could not be imported: importing it broke the protocol ({BREACH})"
                self._import_failed(module)
            except TimedOut as stuck:
                self.drop_worker()
                where = stuck.where.get("location")
                culprit = _top_level_file(where, self.package) or file
                sentence = f"{culprit} did not finish importing within {self.timeout:g} s"
                self._import_errors[module] = self._blame(module, culprit, sentence + (f": it was running {where}" if where else ""))
                self._import_failed(module)
            except WorkerDied as died:
                self.drop_worker()
                self._import_errors[module] = self._died_importing(module, died.description)
                self._import_failed(module)
            if reply.get("ok"):
                self._resolved[key] = None
            elif reply.get("why") == "import":
                err = trimmed(reply.get("error"))
                culprit = _top_level_file(err.get("location"), self.package) or file
                self._import_errors[module] = self._blame(module, culprit, _import_sentence(culprit, err))
                self._import_failed(module)
            elif reply.get("why") == "not callable":
                self._resolved[key] = f"{file} defines {name}, but as a {str(reply.get('type'))[:80]}, not a function"
            else:
                self._resolved[key] = f"{file} has no function {name}(): did it get renamed or deleted?"
        if self._resolved[key]:
            fail(self._resolved[key])

    # -- a file that does not import stops every file that imports it -----------------------------

    def _import_failed(self, module: str):
        fail(self._import_errors[module], self._culprits.get(module, f"{self.package}/{module}.py"))

    def _blame(self, module: str, culprit: str, sentence: str) -> str:
        """`module`'s sentence when `culprit` (its own file, or one it imports) broke as `sentence`
        says: the same words for every file it stops, so they are counted together."""
        file = f"{self.package}/{module}.py"
        self._culprits[module] = culprit
        said = self._broken.setdefault(culprit, sentence)
        return said if culprit == file else f"{file} waits on {culprit}, which does not import: {said}"

    def _died_importing(self, module: str, description: str) -> str:
        """Importing `module` ended the worker: if a learner file it imports does so alone (tried
        each in a fresh worker), that file broke, not this one."""
        self._probing.add(module)
        try:
            for other in _sibling_imports(self.directory, module):
                if other not in self._import_errors and other not in self._probing:
                    try:
                        self.resolve(other, "__name__")  # imports it, nothing more
                    except CallFailed:
                        pass
                if other in self._culprits:
                    culprit = self._culprits[other]
                    return self._blame(module, culprit, self._broken[culprit])
        finally:
            self._probing.discard(module)
        file = f"{self.package}/{module}.py"
        return self._blame(module, file, f"{file} could not be imported: importing it ended the process — {description}")

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
        if function.on is None and function.grader is None:
            self.resolve(function.module, function.name)
        handles: dict[int, dict] = dict(extra_clients or {})

        def kept(value: Any) -> int | None:
            if not isinstance(value, RemoteObject):
                return None
            if value.worker is not self._worker or not value.worker.alive():
                fail(f"{value.shown} lived in a process that has ended (a time limit, a crash or a restart): make it again")
            return value.number

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
            "args": wire.encode(list(args), clients=number, remotes=kept),
            "kwargs": wire.encode(dict(kwargs), clients=number, remotes=kept),
            "defaults": defaults,
        }
        if function.on is not None:
            message["on"] = kept(function.on)
        if function.grader is not None:
            message["grader"] = function.grader
        if function.keep:
            message["keep"] = function.keep
        gone, self._released[:] = [n for w, n in self._released if w is self._worker], []
        if gone:
            message["release"] = gone
        message["clients"] = {str(k): v for k, v in handles.items()}
        if self.stuck:
            message["stuck"] = [list(k) for k in self.stuck]
        worker = self.worker()
        worker.output.clear()
        timing = self.last_call = CallTiming()
        try:
            reply = worker.request(message, self.timeout, timing.forward)
        except TimedOut as stuck:
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
        except ChannelBroken:
            self.drop_worker()
            fail(f"{_shown(function.name, args)} broke the grading protocol: {BREACH}. The call failed and the next one gets a fresh process.")
        finally:
            timing.done()
            self._show_output(worker)
        if reply.get("op") == "error":
            stuck = trimmed(reply.get("error")).get("stuck")
            if isinstance(stuck, list) and tuple(stuck) in self.stuck:
                raise StoppedAfter(self.stuck[tuple(stuck)])
            raise rebuild_exception(reply.get("error") or {})
        afters = reply.get("after") if isinstance(reply.get("after"), list) else []
        for original, after in zip(args, afters):
            if after is not None and any(w.value is original for w in watched):
                _sync(original, wire.decode(after))
        return wire.decode(reply.get("value"), remotes=lambda spec: RemoteObject(self, worker, spec))

    def _show_output(self, worker: WorkerProcess) -> None:
        """What the call printed goes to pytest's captured output of the test (shortened)."""
        data = bytes(worker.output)
        if not data:
            return
        text = data.decode("utf-8", "replace")
        if len(text) > OUTPUT_SHOWN:
            text = text[:OUTPUT_SHOWN] + f"\n… ({len(data):,} bytes in all)\n"
        sys.stdout.write(text)


class CallTiming:
    """How long the last call took, seen from here (the learner's code cannot touch this clock):
    in all, and after its last request was answered (its own work once the vectors were in)."""

    def __init__(self) -> None:
        self.started = self.answered = time.perf_counter()
        self.seconds = self.after_answers = 0.0

    def forward(self, frame: dict) -> dict:
        try:
            return _forward(frame)
        finally:
            self.answered = time.perf_counter()

    def done(self) -> None:
        now = time.perf_counter()
        self.seconds, self.after_answers = now - self.started, now - self.answered


def _no_http(frame: dict) -> dict:
    return {"error": "connect", "message": "no request can be made while a file is imported"}


def _forward(frame: dict) -> dict:
    client = frame.get("client")
    handle = ClientHandle.registry.get(client) if isinstance(client, int) else None
    if handle is None:
        return {"error": "connect", "message": "this client belongs to a test that has finished"}
    refused = over_the_limits(frame)
    if refused:
        return _http_error(400, refused)
    return handle.endpoint.forward(frame)


def over_the_limits(frame: dict) -> str | None:
    """Why an embeddings request is more than OpenAI's endpoint takes (2,048 inputs, 300,000
    tokens), judged without matching it against any recording; None if it is not."""
    body = frame.get("body")
    if not isinstance(body, str) or not str(frame.get("url", "")).rstrip("/").endswith("/embeddings"):
        return None
    try:
        payload = json.loads(base64.b64decode(body, validate=True))
    except (ValueError, RecursionError):
        return None  # the endpoint says what is wrong with it
    texts = payload.get("input") if isinstance(payload, dict) else None
    if isinstance(texts, str) or texts is None:
        texts = [texts or ""]
    if not isinstance(texts, list):
        return None
    if len(texts) > MAX_INPUTS:
        return f"'input' must have at most {MAX_INPUTS} items, but it has {len(texts):,}"
    tokens = 0
    for text in texts:  # text: about 4 bytes a token, as OpenAI's tokenizer averages; token ids: one each
        tokens += len(text) if isinstance(text, list) else -(-len(str(text).encode("utf-8", "replace")) // 4)
    if tokens > MAX_TOKENS:
        return f"the request holds about {tokens:,} tokens, over the {MAX_TOKENS:,} one request may hold"
    return None


def _http_error(status: int, message: str) -> dict:
    body = {"error": {"message": message, "type": "invalid_request_error", "param": "input", "code": None}}
    return {"status": status, "headers": [["content-type", "application/json"]], "body": base64.b64encode(json.dumps(body).encode()).decode("ascii")}


def _copy_tree(source: Path, destination: Path, limit: int = 5000) -> None:
    """The learner's folder, readable by the worker's user (regular files and folders only)."""
    destination.mkdir(parents=True, mode=0o755, exist_ok=True)
    os.chmod(destination, 0o755)
    count = 0
    for folder, dirs, files in os.walk(source):
        dirs[:] = [d for d in dirs if d != "__pycache__" and not os.path.islink(os.path.join(folder, d))]
        target = destination / os.path.relpath(folder, source)
        target.mkdir(mode=0o755, exist_ok=True)
        os.chmod(target, 0o755)
        for name in files:
            path = os.path.join(folder, name)
            count += 1
            if count > limit or os.path.islink(path) or not os.path.isfile(path):
                continue
            shutil.copyfile(path, target / name)
            os.chmod(target / name, 0o644)


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


def _top_level_file(location: str | None, package: str) -> str | None:
    """The learner's file whose own top level was running at `location` ('pkg/x.py, line 3, in
    <module>: …'), or None: a file that breaks while it is imported."""
    if not isinstance(location, str) or not location.startswith(package + "/"):
        return None
    file, _, rest = location.partition(", line ")
    return file if rest.split(": ", 1)[0].endswith(", in <module>") else None


def _sibling_imports(directory: Path, module: str) -> list[str]:
    """The learner's other modules that `module` imports at its top level (`from .embed import
    embed`), read from its source, never by importing it."""
    import ast

    package = directory.name
    try:
        tree = ast.parse((directory / (module.replace(".", "/") + ".py")).read_bytes())
    except (OSError, SyntaxError, ValueError, RecursionError):
        return []
    found: list[str] = []
    statements = list(tree.body)
    while statements:
        node = statements.pop(0)
        if isinstance(node, (ast.If, ast.Try)):
            statements[:0] = [*node.body, *getattr(node, "orelse", []), *getattr(node, "finalbody", []), *(s for h in getattr(node, "handlers", []) for s in h.body)]
        elif isinstance(node, ast.ImportFrom):
            if node.level == 1:
                found += [node.module] if node.module else [a.name for a in node.names]
            elif node.level == 0 and node.module and node.module.startswith(package + "."):
                found.append(node.module[len(package) + 1 :])
        elif isinstance(node, ast.Import):
            found += [a.name[len(package) + 1 :] for a in node.names if a.name.startswith(package + ".")]
    return [m for m in dict.fromkeys(found) if m != module and (directory / (m.replace(".", "/") + ".py")).is_file()]


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

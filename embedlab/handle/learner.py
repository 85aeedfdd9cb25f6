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

import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from embedlab import wire
from embedlab.handle import sandbox, sweep, users
from embedlab.handle.files import copy_tree, import_sentence, module_of, sibling_imports, stopped_sentence, top_level_file
from embedlab.handle.forwarding import CallTiming, no_http
from embedlab.handle.process import ChannelBroken, TimedOut, WorkerDied, WorkerProcess
from embedlab.handle.values import (
    CallFailed,
    GraderCode,
    RemoteFunction,
    RemoteObject,
    StoppedAfter,
    Watched,
    call_shown,
    client_number,
    fail,
    not_finite,
    rebuild_exception,
    sync_argument,
    trimmed,
)

UNSAFE = "could not be graded safely"
OUTPUT_SHOWN = 2000  # characters of a call's printed output attached to the test
BREACH = "your code wrote to the grader's channel"
IMPORT_AUDIT_ENV = "EMBEDLAB_IMPORT_AUDIT"  # a file: modules the grading process imported after learner code ran


# -- the grading process's side ------------------------------------------------------------------


NO_SPARE_ENV = "EMBEDLAB_NO_SPARE_WORKER"  # set: warm_spare() starts nothing


@dataclass
class Learner:
    directory: Path
    timeout: float = 20.0
    block: str | None = None  # a package the learner's code may not import
    isolate: bool = True

    def __post_init__(self) -> None:
        self.directory = Path(self.directory).resolve()
        self.package = self.directory.name
        self._worker: WorkerProcess | None = None
        self._spare: tuple[WorkerProcess, wire.WorkerConfig] | None = None  # warm_spare(): fresh_worker() hands it over
        self._resolved: dict[tuple[str, str], str | None] = {}
        self._import_errors: dict[str, str] = {}
        self._culprits: dict[str, str] = {}  # module -> the learner's file whose import broke it
        self._broken: dict[str, str] = {}  # that file -> what broke, in one sentence
        self._probing: set[str] = set()
        self.stuck: dict[tuple[str, str], str] = {}
        self._printed_before = 0
        self.isolation = "not started"
        self.walls = sandbox.plan(no_namespaces=not self.isolate)
        self.unsafe: str | None = self.walls.refused  # set: nothing is graded, every call fails with it
        self._scratch = sweep.scratch_folder("embedlab-worker-")
        self._capped = sweep.cap_folder(self._scratch)
        self._imported_before: set[str] | None = None  # sys.modules when learner code first ran
        self.released: list[tuple[Any, int]] = []  # RemoteObjects gone here: the worker may drop them
        self.last_call = CallTiming()
        self._user, self._why_no_user = self._choose_user()

    # -- the worker ------------------------------------------------------------------------------

    def _choose_user(self) -> tuple[tuple[int, int, str] | None, str | None]:
        """The unprivileged user the worker becomes when this process is root — if that user can
        read everything the worker imports. Its folder is then its own, with a copy of the files."""
        if self.walls.user is None:
            return None, None
        user = users.worker_user()  # this submission's own (embedlab grade gives each slot a uid)
        if user is None:
            self.unsafe = "the worker's user could not be found for this submission"
            return None, None
        uid, gid, name = user
        copy = self._scratch / "learner" / self.package
        copy_tree(self.directory, copy)
        os.chmod(self._scratch / "learner", 0o755)
        os.chown(self._scratch, uid, gid)
        return user, None

    def launch(self) -> None:
        """Fork a worker now, if none is running, without waiting for it: it warms up (imports
        numpy and openai) while this process goes on collecting the tests."""
        if self._worker is not None and self._worker.alive():
            return
        self.drop_worker()
        self._worker = self._start(self._config())

    def _start(self, config: wire.WorkerConfig) -> WorkerProcess:
        """A worker exec'd behind this run's walls (never fewer: see `sandbox.plan`)."""
        if self.unsafe:
            fail(f"{UNSAFE}: {self.unsafe}")
        sweep.become_subreaper()  # whatever the worker detaches comes back to us
        sweep.dumpable(False)  # a worker of our own user cannot ptrace us or open our /proc fds
        learner = Path(config.directory)
        in_namespaces = self.walls.namespaces is None
        argv, env = sandbox.command(self.walls, learner, self._scratch, self._user if in_namespaces else None)
        started_as = None if in_namespaces or not self._user else (self._user[0], self._user[1])
        return WorkerProcess.start(config, argv, env, started_as, wrapped=in_namespaces)

    def _config(self) -> wire.WorkerConfig:
        directory = self._scratch / "learner" / self.package if self._user else self.directory
        root = hasattr(os, "geteuid") and os.geteuid() == 0
        return wire.WorkerConfig(
            directory=str(directory),
            package=self.package,
            readonly=sandbox.readonly_paths(directory),
            block=self.block,
            cwd=str(self._scratch),
            namespaces=self.walls.namespaces is None,
            userns=self.walls.namespaces is None and not root,
            landlock=self.walls.landlock,
            seccomp=self.walls.seccomp is None,
            isolation=self.walls.summary(),
        )

    def worker(self) -> WorkerProcess:
        """A running, warmed-up worker (a fresh one after a kill or a crash)."""
        self.launch()
        assert self._worker is not None
        try:
            self._worker.wait_ready()
        except WorkerDied as died:
            self.drop_worker()
            self._refuse(f"its worker could not start behind the walls this run has ({died.description})")
        missing = self.walls.missing(self._worker.stood)
        if missing:
            self.drop_worker()
            self._refuse(missing)
        self.isolation = self._worker.isolation
        return self._worker

    def _refuse(self, why: str) -> NoReturn:
        """This submission is not graded: its worker could not have the walls the run decided."""
        self.unsafe = why
        self.isolation = f"{UNSAFE}: {why}"
        fail(f"{UNSAFE}: {why}")

    def drop_worker(self) -> None:
        if self._worker is not None:
            self._worker.kill()
            self._printed_before += self._worker.printed_total
            self._worker = None

    @property
    def current_worker(self) -> WorkerProcess | None:
        """The worker process calls go to now (None between a kill and the next call)."""
        return self._worker

    @property
    def printed(self) -> int:
        """Bytes the learner's code printed, all calls together."""
        return self._printed_before + (self._worker.printed_total if self._worker else 0)

    def close(self) -> None:
        self.drop_worker()
        if self._spare is not None:
            self._spare[0].kill()
            self._spare = None
        sweep.sweep()
        sweep.remove_folder(self._scratch)
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
        """End the worker; the next call gets a new process (a test of what survives one): the one
        `warm_spare()` started, if it was started as a worker would be now."""
        self.drop_worker()
        spare, self._spare = self._spare, None
        if spare is not None:
            worker, config = spare
            try:
                if config == self._config():
                    worker.wait_ready()  # it adopts the worker's init (its launcher has exited)
            except WorkerDied:
                pass
            if worker.ready and worker.alive():
                self._worker = worker
                return
            worker.kill()
        self.launch()

    def warm_spare(self) -> None:
        """Start, now, the process `fresh_worker()` will hand over, so that it has imported numpy and
        openai by then. No learner code runs in it before the hand-over."""
        if os.environ.get(NO_SPARE_ENV, "") not in ("", "0"):
            return  # every core is busy grading (embedlab grade --jobs N): it would only compete
        if self.unsafe:
            return
        if self._spare is None or not self._spare[0].alive():
            config = self._config()
            self._spare = (self._start(config), config)

    def scratch_folder(self, name: str) -> Path:
        """A new empty folder the worker may write in (under its own scratch folder), the same
        path on both sides: where a test lets the learner's code keep files."""
        try:
            return sweep.folder_inside(self._scratch, name)
        except sweep.Replaced:
            fail("the learner's code replaced a folder the grader had just made for it (with a link?)")

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
                reply = worker.request({"op": "resolve", "module": module, "function": name}, self.timeout, no_http)
            except ChannelBroken:
                self.drop_worker()
                self._import_errors[module] = f"{file} could not be imported: importing it broke the protocol ({BREACH})"
                self._import_failed(module)
            except TimedOut as stuck:
                self.drop_worker()
                where = stuck.where.get("location")
                culprit = top_level_file(where, self.package) or file
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
                culprit = top_level_file(err.get("location"), self.package) or file
                self._import_errors[module] = self._blame(module, culprit, import_sentence(culprit, err))
                self._import_failed(module)
            elif reply.get("why") == "not callable":
                self._resolved[key] = f"{file} defines {name}, but as a {str(reply.get('type'))[:80]}, not a function"
            else:
                self._resolved[key] = f"{file} has no function {name}(): did it get renamed or deleted?"
        unresolved = self._resolved[key]
        if unresolved:
            fail(unresolved)

    # -- a file that does not import stops every file that imports it -----------------------------

    def _import_failed(self, module: str) -> NoReturn:
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
            for other in sibling_imports(self.directory, module):
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
            if value.worker is not self._worker or value.worker is None or not value.worker.alive():
                fail(f"{value.shown} lived in a process that has ended (a time limit, a crash or a restart): make it again")
            return value.number

        def number(value: Any) -> int | None:
            found = client_number(value)
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
        gone, self.released[:] = [n for w, n in self.released if w is self._worker], []
        if gone:
            message["release"] = gone
        message["clients"] = {str(k): v for k, v in handles.items()}
        if self.stuck:
            message["stuck"] = [list(k) for k in self.stuck]
        worker = self.worker()
        worker.output.clear()
        timing = self.last_call = CallTiming()
        deadline = time.monotonic() + self.timeout
        try:
            reply = worker.request(message, self.timeout, timing.forward)
        except TimedOut as stuck:
            self.drop_worker()
            sentence = stopped_sentence(self.timeout, stuck.where.get("location"))
            self.stuck[key] = sentence
            inner = module_of(stuck.where.get("location"), self.package)
            if inner and stuck.where.get("function"):
                self.stuck.setdefault((inner, stuck.where["function"]), sentence)
            raise StoppedAfter(sentence) from None
        except WorkerDied as died:
            self.drop_worker()
            fail(f"{call_shown(function.name, args)} ended the whole process: {died.description}. Nothing after it could run.")
        except ChannelBroken:
            self.drop_worker()
            fail(f"{call_shown(function.name, args)} broke the grading protocol: {BREACH}. The call failed and the next one gets a fresh process.")
        finally:
            timing.done()
            self._show_output(worker)
        if reply.get("op") == "error":
            stuck_in = trimmed(reply.get("error")).get("stuck")
            if isinstance(stuck_in, list) and (stuck_in[0], stuck_in[1]) in self.stuck:
                raise StoppedAfter(self.stuck[(stuck_in[0], stuck_in[1])])
            raise rebuild_exception(reply.get("error") or {})
        budget = wire.Budget(deadline=max(deadline, time.monotonic() + 1.0))  # reading the answer counts in its call
        try:
            sent_after = reply.get("after")
            afters = sent_after if isinstance(sent_after, list) else []
            for original, after in zip(args, afters):
                if after is not None and any(w.value is original for w in watched):
                    sync_argument(original, wire.decode(after, budget=budget))
            value = wire.decode(reply.get("value"), remotes=lambda spec: RemoteObject(self, worker, spec), budget=budget)
        except wire.OverBudget as why:
            fail(f"{call_shown(function.name, args)} returned a value the grader would not read: {why}")
        if function.grader is None:
            odd = not_finite(value)
            if odd is not None:
                fail(
                    f"{call_shown(function.name, args)} returned {odd} among its numbers: every number an exercise returns is "
                    "finite. A nan comes from 0/0 (a vector of length zero?), an inf from dividing by zero"
                )
        return value

    def cpu_of(self, call: Callable[[], Any]) -> tuple[Any, float]:
        """`call()` (a call into the worker) and the CPU seconds the worker's processes used
        meanwhile, read by this process from the kernel's accounting: no clock the learner's code
        can patch, nor one a busy neighbour moves. Needs the same worker before and after."""
        worker = self.worker()
        before = sweep.cpu_seconds(worker.pid)
        value = call()
        if self._worker is not worker:
            fail("the worker ended during a timed call: it cannot be timed")
        return value, sweep.cpu_seconds(worker.pid) - before

    def _show_output(self, worker: WorkerProcess) -> None:
        """What the call printed goes to pytest's captured output of the test (shortened)."""
        data = bytes(worker.output)
        if not data:
            return
        text = data.decode("utf-8", "replace")
        if len(text) > OUTPUT_SHOWN:
            text = text[:OUTPUT_SHOWN] + f"\n… ({len(data):,} bytes in all)\n"
        sys.stdout.write(text)

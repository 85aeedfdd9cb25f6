"""One worker process as the grading process holds it: its pipes, its deadlines, its end.

`WorkerProcess.start(config)` forks the worker (`embedlab.worker.start`). Where the worker gets a
PID namespace, the forked process only sets up the walls, forks the worker's init, says that
init's pid (`{"op": "init"}`) and exits: from then on `pid` is the init, a child of this process
(a subreaper), and killing it ends every process the learner's code started.

Nothing the worker sends is trusted. Frames are read up to `wire.FRAME_LIMIT` bytes and counted
before they are parsed; a frame that breaks the protocol is `ChannelBroken` (the worker is killed);
every write to the worker is non-blocking and must finish before the call's deadline (a worker
that stops reading is a worker that ran out of time); printed output is drained in bounded steps
and kept up to `OUTPUT_KEPT` bytes.
"""

from __future__ import annotations

import itertools
import os
import select
import signal
import subprocess
import time
from collections.abc import Callable

from embedlab import wire
from embedlab.handle import sweep

START_TIMEOUT = 30.0
WHERE_TIMEOUT = 5.0  # only waited out in full when the worker cannot answer; a busy machine can take seconds
OUTPUT_KEPT = 256 * 1024
DRAIN_STEPS = 16  # reads of printed output per wake-up: a worker that prints nonstop cannot hold us


class WorkerDied(Exception):
    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


class ChannelBroken(Exception):
    """The worker sent what no honest worker sends: learner code wrote to the grader's channel."""


class TimedOut(Exception):
    def __init__(self, where: dict) -> None:
        super().__init__("timed out")
        self.where = where


class _Blocked(Exception):
    """A write to the worker could not finish before the deadline."""


class WorkerProcess:
    """One worker process and its three pipes: calls in, messages out, printed output out."""

    def __init__(self, pid: int, to_worker: int, from_worker: int, output: int, popen: subprocess.Popen | None = None) -> None:
        self.pid = pid
        self.to_worker = to_worker
        self.reader = wire.Reader(from_worker, limit=wire.FRAME_LIMIT)
        self.output_fd = output
        self.popen = popen
        self.output = bytearray()  # the printed output, capped
        self.printed_total = 0
        self.status: int | None = None
        self.isolation = "unknown"
        self.ready = False
        self.wrapped = False
        self.stood: dict = {}  # the walls the worker says it raised (checked against the plan)
        self._asks = itertools.count(1)
        for fd in (from_worker, output, to_worker):
            os.set_blocking(fd, False)

    @classmethod
    def start(
        cls, config: wire.WorkerConfig, argv: list[str], env: dict[str, str], user: tuple[int, int] | None = None, wrapped: bool = False
    ) -> WorkerProcess:
        """Exec the worker (`argv`, `env`: `embedlab.handle.sandbox.command`) and send it its
        configuration; `wait_ready()` before the first request. `user`: the uid and gid it is
        started as (no namespaces, a root grader)."""
        calls_r, calls_w = os.pipe()
        replies_r, replies_w = os.pipe()
        output_r, output_w = os.pipe()
        try:
            popen = subprocess.Popen(
                argv,
                stdin=calls_r,
                stdout=replies_w,
                stderr=output_w,
                env=env,
                cwd=config.cwd,
                close_fds=True,
                start_new_session=True,
                **({"user": user[0], "group": user[1], "extra_groups": []} if user else {}),
            )
        except OSError as err:
            for fd in (calls_r, calls_w, replies_r, replies_w, output_r, output_w):
                os.close(fd)
            raise WorkerDied(f"the worker could not be started: {err}") from None
        for fd in (calls_r, replies_w, output_w):
            os.close(fd)
        worker = cls(popen.pid, calls_w, replies_r, output_r, popen)
        worker.wrapped = wrapped  # bubblewrap says its child's death by signal N as exit code 128 + N
        try:
            worker._send(config.to_frame(), time.monotonic() + START_TIMEOUT)
        except (_Blocked, WorkerDied):
            worker.kill()
            raise WorkerDied("the worker did not start") from None
        return worker

    def wait_ready(self) -> None:
        if self.ready:
            return
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                message = self._next(deadline)
            except ChannelBroken:
                message = None
            if message is None:
                said = bytes(self.output[-400:]).decode("utf-8", "replace").strip()
                self.kill()
                raise WorkerDied("the worker did not start" + (f": {said.splitlines()[-1][:200]}" if said else ""))
            if message.get("op") == "ready":
                self.isolation = str(message.get("isolation"))[:300]
                stood = message.get("stood")
                self.stood = stood if isinstance(stood, dict) else {}
                self.ready = True
                return

    # -- talking ---------------------------------------------------------------------------------

    def alive(self) -> bool:
        if self.status is not None:
            return False
        self._poll_status(block=False)
        return self.status is None and not self.reader.closed

    def request(self, message: dict, timeout: float, on_http: Callable[[dict], dict]) -> dict:
        """Send one call and answer the worker's HTTP until its reply, all before the deadline."""
        number = next(self._asks)
        deadline = time.monotonic() + timeout
        try:
            self._send({**message, "id": number}, deadline)
            while True:
                reply = self._next(deadline)
                if reply is None:
                    if time.monotonic() >= deadline and self.alive():
                        raise TimedOut(self.where())
                    raise WorkerDied(self.describe_end())
                op = reply.get("op")
                if op == "http":
                    answer = on_http(reply)
                    self._send({"op": "http_reply", "id": reply.get("id"), **answer}, deadline)
                elif reply.get("id") == number and op in ("result", "error", "resolved"):
                    return reply
        except _Blocked:
            raise TimedOut(self.where()) from None

    def where(self) -> dict:
        """Ask the stuck worker what it is running (its channel thread answers)."""
        number = f"where-{next(self._asks)}"
        deadline = time.monotonic() + WHERE_TIMEOUT
        try:
            self._send({"op": "where", "id": number}, deadline)
            while True:
                reply = self._next(deadline)
                if reply is None:
                    return {}
                if reply.get("op") == "here" and reply.get("id") == number:
                    return {k: v[:1000] for k, v in reply.items() if k in ("location", "function") and isinstance(v, str)}
        except (_Blocked, ChannelBroken, WorkerDied):
            return {}

    def _send(self, message: dict, deadline: float) -> None:
        """Write one frame without ever blocking: a worker that stops reading costs its deadline."""
        view = memoryview(wire.frame(message))
        while view:
            try:
                view = view[os.write(self.to_worker, view) :]
                continue
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                raise WorkerDied(self.describe_end()) from None
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _Blocked()
            watched = [self.output_fd] + ([self.reader.fd] if len(self.reader.buffer) <= 2 * self.reader.limit else [])
            readable, _, _ = select.select(watched, [self.to_worker], [], remaining)
            if self.output_fd in readable:
                self._drain_output()
            if self.reader.fd in readable:
                self.reader.read_available()  # kept for later: the worker may be waiting to write

    def _next(self, deadline: float) -> dict | None:
        """The next message, draining printed output meanwhile; None at the deadline or end of file."""
        while True:
            try:
                message = self.reader.next_frame()
            except wire.WireError:
                self.kill()
                raise ChannelBroken() from None
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
        for _ in range(DRAIN_STEPS):
            try:
                chunk = os.read(self.output_fd, 1 << 16)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            if not chunk:
                return
            self.printed_total += len(chunk)
            room = OUTPUT_KEPT - len(self.output)
            if room > 0:
                self.output += chunk[:room]

    # -- ending ----------------------------------------------------------------------------------

    def _poll_status(self, block: bool) -> None:
        if self.status is not None:
            return
        try:
            if self.popen is not None:
                code = self.popen.wait() if block else self.popen.poll()
                if code is not None:
                    self.status = -code if code < 0 else code << 8  # as os.waitpid says it
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
        status = self.status
        if self.wrapped and os.WIFEXITED(status) and 128 < os.WEXITSTATUS(status) < 128 + 65:
            status = os.WEXITSTATUS(status) - 128  # the worker inside bubblewrap died of that signal
        return describe_status(status)

    def kill(self) -> None:
        """The worker and everything it started (its init's death ends its PID namespace)."""
        if self.status is None:
            sweep.kill_tree(self.pid)
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

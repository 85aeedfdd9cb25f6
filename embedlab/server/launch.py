"""`LocalServer`: run `embedlab serve` in a subprocess on a free loopback port.

For tests and tools (the grading kit's `--live local`, the benchmark):

    with LocalServer() as server:
        client = OpenAI(base_url=server.base_url, api_key=server.api_key or "any")
        client.embeddings.create(model=server.model, input="a sleeping cat")

The server writes its address to a ready file once it accepts requests; `LocalServer` waits for
that file and a good `GET /health`, and on the way out sends SIGTERM, waits, and kills it if it
must. The server also stops by itself if the process that started it dies.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import weakref
from pathlib import Path
from types import TracebackType
from typing import IO

import embedlab

API_KEY_ENV = "EMBEDLAB_API_KEY"


class LocalServer:
    """A running `embedlab serve --port 0 *serve_args`, as a context manager."""

    def __init__(self, *serve_args: str, env: dict[str, str] | None = None, startup_timeout: float = 120.0) -> None:
        """`serve_args`: more `embedlab serve` options, e.g. `"--backend", "sentence-transformers"`.
        `env`: variables added to this process's environment for the server.
        An `--api-key` among the options is handed over in the environment instead, so it does
        not show in the process list."""
        self._env = dict(env or {})
        self.serve_args, key = _take_api_key(serve_args)
        if key is None:
            key = self._env.get(API_KEY_ENV, os.environ.get(API_KEY_ENV))
        self.api_key: str | None = (key or "").strip() or None
        self.startup_timeout = startup_timeout
        self.base_url = ""  # e.g. "http://127.0.0.1:41237/v1", once started
        self.model = ""  # the served model name, once started
        self.info: dict[str, object] = {}  # everything the server wrote to its ready file
        self.process: subprocess.Popen[bytes] | None = None
        self.returncode: int | None = None
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._log: IO[bytes] | None = None
        self._output = ""

    def __enter__(self) -> LocalServer:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    @property
    def environ(self) -> dict[str, str]:
        """The variables a client needs, as in the .env snippet the server prints."""
        return {
            "OPENAI_BASE_URL": self.base_url,
            "OPENAI_API_KEY": self.api_key or "embedlab-local",
            "EMBED_MODEL": self.model,
        }

    @property
    def output(self) -> str:
        """What the server printed so far (stdout and stderr together)."""
        if self._dir is not None:
            log = Path(self._dir.name) / "server.log"
            if log.exists():
                return log.read_text(errors="replace")
        return self._output

    def start(self) -> None:
        if self.process is not None:
            raise RuntimeError("this LocalServer was already started")
        self._dir = tempfile.TemporaryDirectory(prefix="embedlab-server-")
        folder = Path(self._dir.name)
        ready = folder / "ready.json"
        command = [
            sys.executable,
            "-m",
            "embedlab",
            "serve",
            "--port",
            "0",
            "--ready-file",
            str(ready),
            "--exit-with-parent",
            *self.serve_args,
        ]
        self._log = (folder / "server.log").open("wb")
        try:
            self.process = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=self._child_env())
        except BaseException:
            self._cleanup()
            raise
        weakref.finalize(self, _kill, self.process)  # even if nobody calls stop()
        try:
            self._wait_until_ready(ready)
        except BaseException:
            self.stop()
            raise

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM, wait up to `timeout` seconds, then kill. Returns the exit status."""
        process = self.process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process is not None:
            self.returncode = process.returncode
        self._cleanup()
        return self.returncode

    def _child_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self._env)
        # This copy of embedlab is importable whatever the caller's working folder.
        root = str(Path(embedlab.__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        env["PYTHONUNBUFFERED"] = "1"
        env.setdefault("HF_HUB_OFFLINE", "1")
        if self.api_key:
            env[API_KEY_ENV] = self.api_key
        else:
            env.pop(API_KEY_ENV, None)
        return env

    def _wait_until_ready(self, ready: Path) -> None:
        assert self.process is not None
        deadline = time.monotonic() + self.startup_timeout
        while not ready.exists():
            code = self.process.poll()
            if code is not None:
                raise RuntimeError(self._failure(f"exited with status {code} before it was ready"))
            if time.monotonic() > deadline:
                raise RuntimeError(self._failure(f"was not ready after {self.startup_timeout:.0f} s"))
            time.sleep(0.05)
        self.info = json.loads(ready.read_text())
        self.base_url = str(self.info["base_url"])
        self.model = str(self.info["model"])
        health = self.base_url.rsplit("/v1", 1)[0] + "/health"
        while True:
            try:
                with urllib.request.urlopen(health, timeout=5) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(self._failure(f"did not answer GET {health}"))
            time.sleep(0.1)

    def _failure(self, what: str) -> str:
        command = " ".join(["embedlab serve", *self.serve_args])
        return f"`{command}` {what}. Its output:\n{self.output.rstrip() or '(nothing)'}"

    def _cleanup(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._dir is not None:
            self._output = self.output
            self._dir.cleanup()
            self._dir = None


def _take_api_key(args: tuple[str, ...]) -> tuple[tuple[str, ...], str | None]:
    """The arguments without `--api-key KEY` / `--api-key=KEY`, and that key."""
    rest: list[str] = []
    key: str | None = None
    it = iter(args)
    for arg in it:
        if arg == "--api-key":
            key = next(it, "")
        elif arg.startswith("--api-key="):
            key = arg.split("=", 1)[1]
        else:
            rest.append(arg)
    return tuple(rest), key


def _kill(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.kill()
        process.wait()

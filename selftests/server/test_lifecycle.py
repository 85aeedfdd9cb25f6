"""Starting and stopping: the command line, the startup text, signals, and no process left behind."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from openai import OpenAI

from embedlab.server.cli import banner
from embedlab.server.launch import LocalServer

from .helpers import has_ipv6_loopback


def serve(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "embedlab", "serve", *args], capture_output=True, text=True, timeout=timeout
    )


def gone(pid: int, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


def test_the_startup_text_is_a_ready_env_snippet(server: LocalServer) -> None:
    out = server.output
    assert f"ready at {server.base_url}" in out
    for line in (f"OPENAI_BASE_URL={server.base_url}", "OPENAI_API_KEY=embedlab-local", f"EMBED_MODEL={server.model}"):
        assert f"\n{line}\n" in out  # alone on its line: pasteable as is
    assert "Ctrl-C" in out
    assert "INFO" not in out  # no library's log lines (wordllama turns on INFO logging at import)
    assert server.info["port"] == int(server.base_url.rsplit(":", 1)[1].split("/")[0])


def test_the_banner_never_shows_a_key() -> None:
    key = "sk-embedlab-0123456789-secret"
    text = banner("http://127.0.0.1:8000/v1", "m", "a model", key)
    assert key not in text and "cret" in text  # the last four characters only
    assert "OPENAI_API_KEY=" in text
    assert "other machines" in banner("http://0.0.0.0:8000/v1", "m", "a model", None, wildcard=True)


def test_sigterm_stops_it_cleanly() -> None:
    running = LocalServer()
    with running:
        pid = running.process.pid
        OpenAI(base_url=running.base_url, api_key="x", max_retries=0).embeddings.create(model=running.model, input="hi")
    assert running.returncode == 0
    assert "stopped (SIGTERM)" in running.output
    assert "Traceback" not in running.output
    assert gone(pid, within=1)


def test_ctrl_c_stops_it_cleanly_from_any_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # the launcher must not depend on the caller's folder
    monkeypatch.delenv("PYTHONPATH", raising=False)
    with LocalServer() as running:
        running.process.send_signal(signal.SIGINT)
        assert running.process.wait(15) == 0
    assert "stopped (Ctrl-C)" in running.output


def test_it_stops_when_its_parent_dies(tmp_path: Path) -> None:
    ready = tmp_path / "ready.json"
    parent = textwrap.dedent(
        f"""
        import subprocess, sys, time, os
        subprocess.Popen([sys.executable, "-m", "embedlab", "serve", "--port", "0", "--exit-with-parent",
                          "--ready-file", {str(ready)!r}], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while not os.path.exists({str(ready)!r}):
            time.sleep(0.05)
        os._exit(0)  # dies without stopping its child
        """
    )
    subprocess.run([sys.executable, "-c", parent], timeout=60, check=True)
    pid = json.loads(ready.read_text())["pid"]
    assert gone(pid, within=5), "the orphaned server kept running"


def test_a_taken_port_fails_at_once_with_a_hint() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = serve("--port", str(port), timeout=30)
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "--port 0" in result.stderr
    assert "loading" not in result.stdout  # failed before loading the model


@pytest.mark.skipif(not has_ipv6_loopback(), reason="this machine has no IPv6 loopback (::1)")
def test_a_port_taken_on_ipv6_only_is_named() -> None:
    with socket.socket(socket.AF_INET6) as taken:  # ::1 and 127.0.0.1 are served on one port
        taken.bind(("::1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = serve("--port", str(port), timeout=30)
        assert result.returncode == 1
        assert f"cannot listen on [::1]:{port}" in result.stderr
        # An explicit --host is all it listens on (the later --port wins over LocalServer's --port 0).
        with LocalServer("--host", "127.0.0.1", "--port", str(port), startup_timeout=60) as only_v4:
            assert only_v4.base_url == f"http://127.0.0.1:{port}/v1"


def test_a_model_not_fetched_says_how_to_fetch_it(tmp_path: Path) -> None:
    result = serve("--port", "0", "--backend", "sentence-transformers", "--model", "all-MiniLM-L6-v2",
                   "--cache-dir", str(tmp_path))
    assert result.returncode == 1
    assert "embedlab fetch-model all-MiniLM-L6-v2" in result.stderr
    assert "Traceback" not in result.stderr


def test_wordllama_takes_no_model() -> None:
    result = serve("--port", "0", "--model", "some-model")
    assert result.returncode == 1
    assert "--backend sentence-transformers" in result.stderr


def test_the_launcher_reports_a_server_that_cannot_start() -> None:
    with pytest.raises(RuntimeError, match="exited with status 1") as failed:
        LocalServer("--model", "some-model").__enter__()
    assert "wordllama backend serves only its bundled model" in str(failed.value)  # the server's own words


def test_help() -> None:
    result = subprocess.run([sys.executable, "-m", "embedlab", "serve", "--help"], capture_output=True, text=True)
    assert result.returncode == 0
    for option in ("--host", "--port", "--backend", "--model", "--served-name", "--api-key", "--max-inputs",
                   "--max-chars"):
        assert option in result.stdout
    assert "--exit-with-parent" not in result.stdout

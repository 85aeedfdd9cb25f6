"""Helpers for the kit's tests of its own grading: run pytest and the CLI as a learner would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from embedlab.instructor.runner import SECRET_PREFIXES

ROOT = Path(__file__).resolve().parents[2]
SETS = sorted(p.parent.name for p in (ROOT / "cassettes").glob("*/manifest.json"))


@dataclass
class Run:
    code: int
    output: str
    results: dict | None

    def statuses(self) -> dict[str, str]:
        """nodeid -> passed / failed / not started / skipped."""
        assert self.results is not None, self.output
        return {t["extra_data"]["nodeid"]: t["extra_data"]["embedlab_status"] for t in self.results["tests"]}


def clean_env(**extra: str) -> dict[str, str]:
    """The environment of a learner with no endpoint configured (and no .env in the way)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith((*SECRET_PREFIXES, "PYTEST_"))}
    env.update(extra)
    return env


def run_pytest(*args: str, tmp_path: Path, env: dict[str, str] | None = None, timeout: float = 300) -> Run:
    """`python -m pytest ARGS` in the kit, as a learner runs it, with the results written as JSON."""
    report = tmp_path / f"results-{len(list(tmp_path.glob('results-*.json')))}.json"
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", f"--grade-json={report}", *args]
    done = subprocess.run(command, cwd=ROOT, env=env or clean_env(), capture_output=True, text=True, timeout=timeout)
    results = json.loads(report.read_text()) if report.exists() else None
    return Run(done.returncode, done.stdout + done.stderr, results)


def run_cli(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "embedlab", *args], cwd=cwd, env=env or clean_env(), capture_output=True, text=True, timeout=timeout
    )


_SECTIONS: list[tuple[str, list[str]]] = []  # (title, lines): shown after the run, see pytest_terminal_summary


@pytest.fixture
def report_section():
    """`report_section(title, lines)`: figures for the reader, shown in a section of their own after
    pytest's progress lines (never in the middle of them, with or without -s)."""
    return lambda title, lines: _SECTIONS.append((title, list(lines)))


def pytest_terminal_summary(terminalreporter) -> None:
    for title, lines in _SECTIONS:
        terminalreporter.write_sep("-", title)
        for line in lines:
            terminalreporter.write_line(line)
    _SECTIONS.clear()


@pytest.fixture(scope="session")
def local_server():
    """One `embedlab serve` (the bundled model) for the tests that need a live endpoint."""
    from embedlab.server.launch import LocalServer

    with LocalServer() as server:
        yield server


def processes_carrying(marker: str) -> list[int]:
    """Processes still running whose command line carries `marker`: what a hostile submission
    started and must not leave behind."""
    found = []
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if entry.isdigit():
            try:
                if marker.encode() in Path(f"/proc/{entry}/cmdline").read_bytes():
                    found.append(int(entry))
            except OSError:
                pass
    return found


def kill_carrying(marker: str) -> None:
    import signal

    for pid in processes_carrying(marker):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass

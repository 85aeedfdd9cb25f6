"""The kit's own tests talk only to this machine's loopback: see selftests/loopback/sitecustomize.py.

Every phase of every selftest is checked: if it, or any Python process it started, tried to reach
another address, the test fails and names the address.
"""

from __future__ import annotations

import importlib.util
import os
import tempfile
from pathlib import Path

import pytest

GUARD_DIR = Path(__file__).resolve().parent / "loopback"


def _load_guard():
    spec = importlib.util.spec_from_file_location("embedlab_loopback_guard", GUARD_DIR / "sitecustomize.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


guard = _load_guard()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "registry: reaches the package registry (PyPI) on purpose, outside the guard")
    if os.environ.get(guard.LOG_ENV):  # a selftest's own pytest run inside the guarded session
        guard.install()
        config.stash[_OFFSET] = None
        return
    handle, log = tempfile.mkstemp(prefix="embedlab-loopback-", suffix=".log")
    os.close(handle)
    os.environ[guard.LOG_ENV] = log
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(GUARD_DIR), os.environ.get("PYTHONPATH")]))
    guard.install()
    config.stash[_OFFSET] = 0


def pytest_unconfigure(config: pytest.Config) -> None:
    if config.stash.get(_OFFSET, None) is not None:
        Path(os.environ[guard.LOG_ENV]).unlink(missing_ok=True)


_OFFSET = pytest.StashKey["int | None"]()


def new_violations(config: pytest.Config) -> list[str]:
    """Lines the guard wrote since the last look: 'pid<TAB>command<TAB>what was refused'."""
    offset = config.stash.get(_OFFSET, None)
    if offset is None:
        return []
    path = Path(os.environ[guard.LOG_ENV])
    try:
        with path.open("rb") as handle:
            handle.seek(offset)
            data = handle.read()
    except FileNotFoundError:
        return []
    config.stash[_OFFSET] = offset + len(data)
    return [line for line in data.decode("utf-8", "replace").splitlines() if line.strip()]


def registry_env(**extra: str) -> dict[str, str]:
    """This environment without the guard: only for a test marked `registry`, whose pip reaches PyPI."""
    env = {k: v for k, v in os.environ.items() if k != guard.LOG_ENV}
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and Path(p) != GUARD_DIR]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env.update(extra)
    return env


def _describe(lines: list[str]) -> str:
    described = []
    for line in lines:
        pid, rest = line.split("\t", 1)
        command, what = rest.rsplit("\t", 1)
        described.append(f"  {what} (pid {pid}: {command})")
    return "\n".join(described)


@pytest.fixture
def loopback_violations(pytestconfig: pytest.Config):
    """For the guard's own tests: what the guard refused since the last look (and no failure for it)."""
    return lambda: new_violations(pytestconfig)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    found = new_violations(item.config)
    if found:
        message = "This test tried to reach another machine; the kit's tests talk only to loopback:\n" + _describe(found)
        if report.failed:
            report.sections.append(("loopback guard", message))
        else:
            report.outcome = "failed"
            report.longrepr = message
    return report

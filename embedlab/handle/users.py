"""Who the worker runs as: when the grader is root, an unprivileged user of its own.

`worker_user()` is decided in the grading process (`EMBEDLAB_WORKER_USER`: a name or `uid:gid`;
default `embedlab-worker`, which the Gradescope `setup.sh` creates, else `nobody`; `off` keeps
root), and only taken when that user can read what the worker reads (`worker_needs()`,
`unreachable()`). Submissions graded at the same time by `embedlab grade` each get their own: slot
0 the configured user, slot k the unnamed uid `SLOT_UIDS + k`. `drop_user()` runs in the worker,
before its namespaces. Part of the walls (`embedlab.handle.sandbox`).
"""

from __future__ import annotations

import os
import pwd
import sys
from pathlib import Path

WORKER_USER_ENV = "EMBEDLAB_WORKER_USER"
SLOT_ENV = "EMBEDLAB_WORKER_SLOT"  # set by `embedlab grade` per concurrent submission: 1, 2, … get users of their own
SLOT_UIDS = 2_147_400_000  # slot k > 0 runs as uid and gid SLOT_UIDS + k (no account needed)
DEFAULT_USERS = ("embedlab-worker", "nobody")


def worker_user() -> tuple[int, int, str] | None:
    """(uid, gid, name) the worker drops to, or None: only when this process is root. Submissions
    graded at the same time by `embedlab grade` each get their own (slot 0 the configured user,
    slot k the unnamed uid SLOT_UIDS + k), so none can signal another's worker."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return None
    wanted = os.environ.get(WORKER_USER_ENV, "").strip()
    if wanted.lower() in ("off", "root", "0"):
        return None
    slot = os.environ.get(SLOT_ENV, "")
    if slot.isdigit() and int(slot) > 0:
        return SLOT_UIDS + int(slot), SLOT_UIDS + int(slot), f"uid {SLOT_UIDS + int(slot)}"
    if wanted and ":" in wanted:
        uid, _, gid = wanted.partition(":")
        if uid.isdigit() and gid.isdigit() and int(uid) > 0:
            return int(uid), int(gid), wanted
        return None
    for name in [wanted] if wanted else DEFAULT_USERS:
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        if entry.pw_uid > 0:
            return entry.pw_uid, entry.pw_gid, name
    return None


def unreachable(paths: list[Path], uid: int, gid: int) -> Path | None:
    """The first of `paths` that user `uid`/`gid` could not read (every folder on the way must let
    it through), judged from the modes; None if it can read them all."""
    checked: dict[str, bool] = {}

    def allowed(path: str, want: int) -> bool:
        try:
            info = os.stat(path)
        except OSError:
            return True  # nothing there: nothing to read either
        if info.st_uid == uid:
            return bool(info.st_mode & (want << 6))
        if info.st_gid == gid:
            return bool(info.st_mode & (want << 3))
        return bool(info.st_mode & want)

    for path in paths:
        path = Path(os.path.abspath(path))
        parts = [str(p) for p in reversed(path.parents)] + [str(path)]
        for part in parts:
            if part not in checked:
                checked[part] = allowed(part, 1)
            if not checked[part]:
                return Path(part)
        if path.is_dir() and not allowed(str(path), 4 | 1):
            return path
    return None


def worker_needs() -> list[Path]:
    """What the worker reads as it starts and runs: the interpreter's folders, and the folders of
    the kit and of the packages it imports (not every folder on sys.path: the tests' are not)."""
    import importlib.util

    found = [Path(p) for p in (sys.prefix, sys.base_prefix) if os.path.isdir(p)]
    for name in ("embedlab", "numpy", "openai", "httpx2"):
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            continue
        if spec is not None and spec.origin:
            found.append(Path(spec.origin).parent)
    return found

"""A class's submissions, read safely into memory before any learner code runs: without following
symlinks, without opening anything that is not a regular file, size-capped; and the integrity
flags read from their files."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterable
from pathlib import Path

from embedlab.instructor.gradebook import exercise_files
from embedlab.instructor.records import Snapshot, Submission

__all__ = ["DEPTH_CAP", "ENTRY_CAP", "FILE_CAP", "SKIPPED_DIRS", "exercises_prefix", "inspect", "read_submission", "read_tree", "submission_folders"]

IMPORTS_SOLUTIONS = re.compile(r"^\s*(from\s+solutions\b|import\s+solutions\b)", re.MULTILINE)
FILE_CAP = 1024 * 1024  # the largest submission file read
SUBMISSION_CAP = 16 * 1024 * 1024  # all of one submission's files together
ENTRY_CAP = 5000  # directory entries looked at per submission
DEPTH_CAP = 8
SKIPPED_DIRS = frozenset({"__pycache__", ".git", ".venv", "venv", "node_modules", ".pytest_cache"})


def submission_folders(folder: Path) -> list[os.DirEntry]:
    """The class: each sub-folder of `folder` (not hidden, not a link), sorted by name."""
    return [e for e in sorted(os.scandir(folder), key=lambda e: e.name) if not e.name.startswith(".") and e.is_dir(follow_symlinks=False)]


def read_submission(name: str, folder: Path, snapshot: Snapshot) -> Submission:
    """One learner's work, read into memory: their `exercises/` folder, a full copy of the kit (or
    of the learner release), or just the exercise files — also inside one folder of a zip."""
    submission = Submission(name, folder)
    tree, notes = read_tree(folder)
    prefix = exercises_prefix(tree)
    submission.files = {p[len(prefix) :]: data for p, data in tree.items() if p.startswith(prefix) and p.endswith(".py")}
    if not prefix.endswith("exercises/"):  # just the files: not the kit's own folders
        submission.files = {p: d for p, d in submission.files.items() if not p.startswith(("tests/", "solutions/", "embedlab/"))}
    kit_prefix = prefix.removesuffix("exercises/")
    tree = {p[len(kit_prefix) :]: d for p, d in tree.items() if p.startswith(kit_prefix)}
    submission.flags.extend(notes)
    submission.flags.extend(inspect(submission, tree, snapshot))
    return submission


def exercises_prefix(tree: Iterable[str]) -> str:
    """Where the exercise files are among a submission's relative paths: `exercises/`, the top, or
    else the shallowest folder holding them (a zip of the repository adds one folder above it)."""
    tree = list(tree)
    files = exercise_files()
    if any(p.startswith("exercises/") for p in tree) or any(p in files for p in tree):
        return "exercises/" if any(p.startswith("exercises/") for p in tree) else ""
    folders = {p.rpartition("/")[0] + "/" for p in tree if p.rpartition("/")[2] in files}
    folders = {f for f in folders if not any(part in ("tests", "solutions", "embedlab") for part in f.split("/"))}
    return min(folders, key=lambda f: (f.count("/"), not f.endswith("exercises/"), f), default="")


def read_tree(folder: Path) -> tuple[dict[str, bytes], list[str]]:
    """Every regular file under `folder` (relative path -> bytes), without following a symlink or
    opening a FIFO, device or socket; capped in size, count and depth. Also what was skipped."""
    files: dict[str, bytes] = {}
    notes: list[str] = []
    total, entries = 0, 0
    pending = [(folder, "", 0)]
    while pending:
        directory, prefix, depth = pending.pop()
        try:
            listing = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError:
            continue
        for entry in listing:
            entries += 1
            if entries > ENTRY_CAP:
                notes.append(f"more than {ENTRY_CAP} files: the rest was not read")
                return files, notes
            relative = prefix + entry.name
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISLNK(info.st_mode):
                if relative.endswith(".py") or entry.name == "exercises":
                    notes.append(f"skipped a symlink ({relative})")
                continue
            if stat.S_ISDIR(info.st_mode):
                if entry.name not in SKIPPED_DIRS and not entry.name.startswith(".") and depth < DEPTH_CAP:
                    pending.append((Path(entry.path), relative + "/", depth + 1))
                continue
            if not stat.S_ISREG(info.st_mode):
                notes.append(f"skipped a special file ({relative})")
                continue
            if not relative.endswith((".py", ".txt", ".md")) and not _cassette_file(relative):
                continue
            if info.st_size > FILE_CAP or total + info.st_size > SUBMISSION_CAP:
                notes.append(f"skipped a file too large to be code ({relative}, {info.st_size:,} bytes)")
                continue
            data = _read_regular(Path(entry.path))
            if data is not None:
                files[relative] = data
                total += len(data)
    return files, notes


def _cassette_file(relative: str) -> bool:
    """A cassette of a copy of the kit: read only to flag an edited one (yours are used)."""
    return "cassettes/" in relative and relative.endswith((".yaml", ".json")) and relative.count("/") <= DEPTH_CAP


def _read_regular(path: Path) -> bytes | None:
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        chunks, size = [], 0
        while size <= FILE_CAP:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks)[:FILE_CAP]
    finally:
        os.close(fd)


def inspect(submission: Submission, tree: dict[str, bytes], snapshot: Snapshot) -> list[str]:
    """Integrity flags, read from the files: imports of the solutions, edited copies of the tests."""
    flags = []
    for path, data in sorted(submission.files.items()):
        if IMPORTS_SOLUTIONS.search(data.decode("utf-8", "replace")):
            flags.append(f"imports solutions ({path})")
            break
    for folder, what in (("tests/", "tests"), ("cassettes/", "cassettes")):
        theirs = {p: d for p, d in tree.items() if p.startswith(folder) and (p.endswith(".py") if what == "tests" else _cassette_file(p))}
        if what == "tests":
            theirs = {p: d for p, d in theirs.items() if p.count("/") == 1}
        edited = [p.removeprefix(folder) for p, data in sorted(theirs.items()) if snapshot.files.get(p) != data]
        if edited:
            shown = ", ".join(edited[:4]) + (f" and {len(edited) - 4} more" if len(edited) > 4 else "")
            flags.append(f"ships edited {what} ({shown}; graded with yours)")
    if "conftest.py" in tree and snapshot.files.get("conftest.py") not in (None, tree["conftest.py"]):
        flags.append("ships an edited conftest.py (graded with yours)")
    return flags

"""Grade a whole class offline: `embedlab grade SUBMISSIONS --out grades.csv [--jobs N] [--timeout S]`.

Big classes on several machines: `--shard K/N` grades the K-th of N deterministic shares (every
N-th submission by name, from the K-th), and `embedlab grade --merge PART... --out grades.csv`
joins the shards' gradebooks and results folders into the one a single machine would have written.

Each folder in SUBMISSIONS is one learner's work: their `exercises/` folder, or a full copy of the
kit, or just the exercise files. Each is graded with *your* tests and cassettes — never the
submission's copies — offline, with the same grading as plain `pytest` (the learner's code runs in
a worker process, see `embedlab.handle.learner`).

How one submission cannot change another's grade, or yours:
- every submission's files are read into memory first, before any learner code runs: without
  following symlinks, without opening anything that is not a regular file, size-capped;
- each is graded from a fresh scratch copy of your tests, cassettes and configuration, written
  from a snapshot taken at the start, with no bytecode written or read;
- its results come back over an inherited pipe, never through a file it could write, and count
  only if its grading process exited by itself with the status they imply (see `runner`);
- afterwards every process it left is killed (this process is their child subreaper); where the
  worker could not be given a read-only view of your kit, your kit's files are compared with the
  snapshot and any change is flagged (and never "repaired": you may be editing them);
- one that hangs, crashes or sends garbage gets its own row saying so; the class goes on.

Without a container the learner's code still runs with your user's rights: it can read what you
can read. Grade untrusted code in a container or a throwaway VM.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import stat
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from embedlab import course
from embedlab.instructor.gradebook import (  # noqa: F401 (callers find them here, as always)
    exercise_files,
    exercise_names,
    keep_out_of_git,
    write_gradebook,
    cell,
    results_names,
    results_json,
    summary,
    Progress,
)


IMPORTS_SOLUTIONS = re.compile(r"^\s*(from\s+solutions\b|import\s+solutions\b)", re.MULTILINE)
OUTPUT_FLAGGED = 1024 * 1024  # printing more than this is flagged
FILE_CAP = 1024 * 1024  # the largest submission file read
SUBMISSION_CAP = 16 * 1024 * 1024  # all of one submission's files together
ENTRY_CAP = 5000  # directory entries looked at per submission
DEPTH_CAP = 8
RESULTS_CAP = 32 * 1024 * 1024  # bytes of results accepted from one grading process
SKIPPED_DIRS = frozenset({"__pycache__", ".git", ".venv", "venv", "node_modules", ".pytest_cache"})
KIT_FILES = ("pyproject.toml", "conftest.py", course.FILENAME)
KIT_FOLDERS = ("tests", "cassettes")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("submissions", type=Path, nargs="?", help="a folder with one sub-folder per submission")
    parser.add_argument("--out", type=Path, default=Path("grades.csv"), help="the gradebook CSV (default: grades.csv)")
    parser.add_argument("--results", type=Path, help="where each submission's results.json goes (default: next to --out)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="submissions graded at once (default: one per core)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds one submission may take in all (default 120)")
    parser.add_argument("--test-timeout", type=float, default=5.0, help="seconds one call to the learner's code may take (default 5)")
    parser.add_argument("--cassettes", metavar="NAME", help="the cassette set to grade against (default: the kit's)")
    parser.add_argument("--no-sandbox", action="store_true", help="no namespaces for the workers (Landlock, seccomp and the user wall still stand)")
    parser.add_argument("--allow-root-worker", action="store_true", help="grade even where a worker can only run as root (named in the results and the CSV)")
    parser.add_argument("--shard", type=_shard, metavar="K/N", help="grade only the K-th of N equal shares of the class (for several machines)")
    parser.add_argument(
        "--merge", nargs="+", type=Path, metavar="PART", help="join the gradebooks of --shard runs (their CSVs, or folders holding them) into --out"
    )


def _shard(text: str) -> tuple[int, int]:
    k, _, n = text.partition("/")
    if not (k.isdigit() and n.isdigit() and 1 <= int(k) <= int(n)):
        raise argparse.ArgumentTypeError(f"{text!r}: expected K/N with 1 <= K <= N, e.g. 2/4")
    return int(k), int(n)


@dataclass
class Submission:
    name: str
    folder: Path
    files: dict[str, bytes] = field(default_factory=dict)  # exercise files by relative path
    flags: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        files = exercise_files()
        return not any(Path(p).name in files for p in self.files)


@dataclass
class Graded:
    name: str
    status: str  # graded | timeout | crashed | error | empty
    score: float = 0.0
    max_score: float = 0.0
    exercises: dict[str, float] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)
    reason: str = ""
    seconds: float = 0.0
    results: dict | None = None


def run(args: argparse.Namespace) -> int:
    from embedlab import kit

    results_dir = args.results or args.out.with_name(args.out.stem + "-results")
    if args.merge:
        from embedlab.instructor import shards

        return shards.merge(args.merge, args.out, results_dir)
    if args.submissions is None:
        print("embedlab grade: give the folder of submissions (or --merge PART...)", file=sys.stderr)
        return 2
    root = kit.find_root()
    course.checked(root)  # a catalogue that disagrees with the kit stops here, in one sentence
    if not args.submissions.is_dir():
        print(f"embedlab grade: {args.submissions} is not a folder", file=sys.stderr)
        return 2
    snapshot = Snapshot.take(root)
    folders = submission_folders(args.submissions)
    if not folders:
        print(f"embedlab grade: no submissions in {args.submissions}", file=sys.stderr)
        return 2
    names = results_names([entry.name for entry in folders])  # the whole class's: shards name files alike
    if args.shard:
        k, n = args.shard
        folders = folders[k - 1 :: n]
    submissions = [read_submission(entry.name, Path(entry.path), snapshot) for entry in folders]
    results_dir.mkdir(parents=True, exist_ok=True)
    keep_out_of_git(results_dir)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    readonly = [root.resolve(), args.submissions.resolve(), results_dir.resolve(), args.out.parent.resolve()]
    from embedlab.instructor import runner

    refused = runner.decide_walls("grade", no_sandbox=args.no_sandbox, allow_root=args.allow_root_worker)
    if refused:
        print(refused, file=sys.stderr)
        return 2
    settings = runner.GradeSettings(root, args.cassettes, args.timeout, args.test_timeout, tuple(readonly))
    rows = runner.Rows(args.out, results_dir, names, lambda: runner.catalog(settings, snapshot))  # each row as it is done
    graded = runner.grade_all(submissions, settings, snapshot, jobs=max(1, args.jobs), progress=Progress(len(submissions)), on_done=rows.add)
    every_test = rows.every_test() if any(g.results is None for g in graded) else None
    for one in graded:
        data = results_json(one, every_test)
        one.max_score = one.max_score or float(data.get("max_score") or 0)
        (results_dir / names[one.name]).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    write_gradebook(args.out, graded, names)
    from embedlab.instructor import pages, similarity

    # The whole class's pairs (every shard compares them all, alike); never stops the grades.
    similar = similarity.beside_gradebook(args.submissions, args.out, root)

    report = pages.write_report(args.out, results_dir, {g.name: names[g.name] for g in graded})  # grades-report.html
    if args.shard:
        from embedlab.instructor import shards

        shards.write_part(args.out, results_dir, args.shard, names, [g.name for g in graded], settings)
    print(summary(graded, args.out, results_dir, report))
    print(similar)
    return 0


# -- reading submissions, safely -----------------------------------------------------------------


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


# -- the kit, as it was when grading began -------------------------------------------------------


@dataclass
class Snapshot:
    """Your tests, cassettes and configuration as bytes, and a fingerprint of the grader's code."""

    root: Path
    files: dict[str, bytes]
    code: dict[str, str]

    @classmethod
    def take(cls, root: Path) -> Snapshot:
        return cls(root, cls._grading_files(root), cls._fingerprint(root))

    @staticmethod
    def _grading_files(root: Path) -> dict[str, bytes]:
        files = {name: (root / name).read_bytes() for name in KIT_FILES if (root / name).is_file()}
        for folder in KIT_FOLDERS:
            for path in sorted((root / folder).rglob("*")):
                if path.is_file() and "__pycache__" not in path.parts:
                    files[str(path.relative_to(root))] = path.read_bytes()
        return files

    @staticmethod
    def _fingerprint(root: Path) -> dict[str, str]:
        package = Path(__file__).resolve().parent.parent
        return {str(p.relative_to(package.parent)): _sha256(p.read_bytes()) for p in sorted(package.rglob("*.py"))}

    def write(self, destination: Path) -> None:
        for relative, data in self.files.items():
            path = destination / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)

    def changes(self) -> list[str]:
        """What changed in the kit since the snapshot (never touched here: an instructor may be
        editing it; every submission is graded from the snapshot anyway)."""
        current = self._grading_files(self.root)
        changed = [p for p in sorted(set(current) | set(self.files)) if current.get(p) != self.files.get(p)]
        for folder in KIT_FOLDERS:
            changed += [str(c.relative_to(self.root)) for c in (self.root / folder).rglob("*.pyc")]
        code = self._fingerprint(self.root)
        changed += [p for p in sorted(set(code) | set(self.code)) if code.get(p) != self.code.get(p)]
        return changed


# -- grading: in `runner` -------------------------------------------------------------------------

_MOVED = ("GradeSettings", "grade_all", "catalog", "grade_once", "prepare_grader", "PRELOAD", "Rows")


def __getattr__(name: str):
    """`classroom.grade_all` and the rest of the runner, where callers have always found them."""
    if name in _MOVED:
        from embedlab.instructor import runner

        return getattr(runner, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()

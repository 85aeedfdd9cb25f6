"""Write a Gradescope autograder: `embedlab gradescope OUT.zip`.

The zip holds, at its root, what Gradescope asks for (`setup.sh`, `run_autograder`) and:
- `kit/`: your tests, cassettes, conftest.py, pyproject.toml and the `embedlab` package: the
  grading files come from here, never from the submission;
- `requirements.txt`: the kit's runtime dependencies pinned to the versions installed here, where
  the kit's own tests pass (all from PyPI).

`setup.sh` (run once when Gradescope builds the image) creates the unprivileged user
`embedlab-worker` that the learner's code runs as, makes a virtual environment under the
autograder root, installs the pinned requirements from PyPI, then the kit from `kit/`, and checks
the tests and cassettes against `integrity.sha256`. `run_autograder` (run for each submission)
grades `submission/` — the files uploaded, in any layout `embedlab grade` accepts — with
`embedlab autograde` and writes `results/results.json`. Both read the root from
`EMBEDLAB_AUTOGRADER_ROOT` (default `/autograder`), so the zip can be tried on a fake tree.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import zipfile
from pathlib import Path

KIT_FILES = ("conftest.py", "course.toml", "pyproject.toml", "integrity.sha256")
KIT_FOLDERS = ("tests", "cassettes", "embedlab")
SKIPPED = {"__pycache__", ".pytest_cache"}
EXECUTABLE = 0o100755 << 16
REGULAR = 0o100644 << 16


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out", type=Path, help="the zip to write, e.g. embeddings-autograder.zip")
    parser.add_argument("--cassettes", metavar="NAME", help="the cassette set to grade against (default: the kit's)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds one submission may take in all (default 300)")
    parser.add_argument("--test-timeout", type=float, default=5.0, help="seconds one call to the learner's code may take (default 5)")


def run(args: argparse.Namespace) -> int:
    from embedlab import kit
    from embedlab.instructor import integrity

    root = kit.find_root()
    from embedlab import course

    course.checked(root)  # a catalogue that disagrees with the kit stops here, in one sentence
    problems = integrity.check(root)
    if problems:
        print(f"embedlab gradescope: the tests or cassettes do not match integrity.sha256 ({problems[0]}): "
              "run `embedlab integrity write` after reviewing them", file=sys.stderr)  # fmt: skip
        return 2
    if args.cassettes and not (root / "cassettes" / args.cassettes / "manifest.json").is_file():
        print(f"embedlab gradescope: no cassette set {args.cassettes!r} in {root / 'cassettes'}", file=sys.stderr)
        return 2
    options = ["--timeout", f"{args.timeout:g}", "--test-timeout", f"{args.test_timeout:g}"]
    if args.cassettes:
        options += ["--cassettes", args.cassettes]
    count = write_zip(root, args.out, options)
    print(f"wrote {args.out}: setup.sh, run_autograder, requirements.txt and kit/ ({count} files)")
    print("upload it as the assignment's autograder (Configure Autograder → Zip file upload); docs/instructors.md: Gradescope")
    return 0


def write_zip(root: Path, out: Path, options: list[str]) -> int:
    out.parent.mkdir(parents=True, exist_ok=True)
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    count = 0
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:

        def add(name: str, data: bytes, mode: int = REGULAR) -> None:
            nonlocal count
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))  # the same kit, the same zip
            info.external_attr = mode
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
            count += 1

        add("setup.sh", SETUP.replace("@PYTHON@", version).encode(), EXECUTABLE)
        add("run_autograder", RUN.replace("@OPTIONS@", shlex.join(options)).encode(), EXECUTABLE)
        add("requirements.txt", requirements(root, version).encode())
        for name in KIT_FILES:
            add(f"kit/{name}", (root / name).read_bytes())
        add("kit/README.md", KIT_README.encode())
        for folder in KIT_FOLDERS:
            for path in sorted((root / folder).rglob("*")):
                relative = path.relative_to(root)
                if path.is_file() and not SKIPPED & set(relative.parts) and path.suffix != ".pyc":
                    add(f"kit/{relative.as_posix()}", path.read_bytes())
    return count


def requirements(root: Path, version: str) -> str:
    lines = "".join(f"{pin}\n" for pin in pinned_dependencies(declared(root)))
    return f"# The kit's runtime dependencies, pinned as installed where the zip was made (Python {version}).\n{lines}"


def declared(root: Path) -> list[str]:
    """The kit's own runtime requirements, from the pyproject.toml that goes into the zip."""
    try:
        import tomllib
    except ImportError:  # Python 3.10: the installed metadata says the same, if it is current
        from importlib import metadata

        return [r for r in metadata.requires("embedlab") or [] if "extra ==" not in r]
    with (root / "pyproject.toml").open("rb") as handle:
        return list(tomllib.load(handle)["project"]["dependencies"])


def pinned_dependencies(requirements: list[str]) -> list[str]:
    """`name==version` for each requirement and everything it needs (no extras), as installed here."""
    from importlib import metadata

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    pins: dict[str, str] = {}
    pending = [Requirement(r) for r in requirements]
    while pending:
        requirement = pending.pop()
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue
        name = canonicalize_name(requirement.name)
        if name in pins:
            continue
        found = metadata.distribution(requirement.name)
        pins[name] = f"{found.metadata['Name']}=={found.version}"
        pending += [Requirement(r) for r in found.requires or []]
    return sorted(pins.values(), key=str.lower)


KIT_README = """# embedlab — the grader of a Gradescope autograder

Written by `embedlab gradescope`: the tests, cassettes and grader that `run_autograder` uses.
Nothing here comes from a submission.
"""

SETUP = """#!/usr/bin/env bash
# Gradescope runs this once, as root, while it builds the autograder image (written by
# `embedlab gradescope`). A virtual environment under the autograder root, with the kit's
# dependencies pinned in requirements.txt (from PyPI) and the kit from kit/ of this zip.
set -euo pipefail
SOURCE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="${EMBEDLAB_AUTOGRADER_ROOT:-/autograder}"
WANT="@PYTHON@"  # the Python the pins were made with

usable() {  # a Python at least as new as WANT, with venv and ensurepip
    command -v "$1" >/dev/null 2>&1 && "$1" - "$WANT" <<'EOF'
import sys, ensurepip, venv
want = tuple(int(p) for p in sys.argv[1].split("."))
sys.exit(sys.version_info[:2] < want)
EOF
}

PYTHON=""
for candidate in "python$WANT" python3; do
    if usable "$candidate"; then PYTHON="$candidate"; break; fi
done
if [ -z "$PYTHON" ] && command -v apt-get >/dev/null 2>&1; then  # Ubuntu: venv is a package of its own
    apt-get update -qq || true
    apt-get install -y -qq python3-venv >/dev/null 2>&1 || true
    apt-get install -y -qq "python$WANT" "python$WANT-venv" >/dev/null 2>&1 || true
    for candidate in "python$WANT" python3; do
        if usable "$candidate"; then PYTHON="$candidate"; break; fi
    done
fi
if [ -z "$PYTHON" ]; then
    echo "setup.sh: no Python $WANT or newer with venv here; choose a newer base image, or build the zip with an older Python" >&2
    exit 1
fi

# The learner's code runs as this unprivileged user (embedlab.handle.users): it cannot signal the
# grader, read its pipes, or write the interpreter, the venv or the kit, all root's and read-only to it.
if [ "$(id -u)" = 0 ] && ! id embedlab-worker >/dev/null 2>&1; then
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin embedlab-worker 2>/dev/null \
        || adduser --system --no-create-home --group embedlab-worker >/dev/null 2>&1 || true
fi
umask 022  # the venv readable, never writable, by that user
"$PYTHON" -m venv "$ROOT/embedlab-venv"
"$ROOT/embedlab-venv/bin/python" -m pip install --quiet --no-cache-dir -r "$SOURCE/requirements.txt"
"$ROOT/embedlab-venv/bin/python" -m pip install --quiet --no-cache-dir --no-deps "$SOURCE/kit"
cd "$SOURCE/kit" && "$ROOT/embedlab-venv/bin/python" -m embedlab integrity check
"""

RUN = """#!/usr/bin/env bash
# Gradescope runs this for each submission (written by `embedlab gradescope`): the files in
# submission/ are graded with the tests and cassettes in source/kit/, never the submission's own
# copies, and the result goes to results/results.json.
set -uo pipefail
ROOT="${EMBEDLAB_AUTOGRADER_ROOT:-/autograder}"
PYTHON="$ROOT/embedlab-venv/bin/python"
[ -x "$PYTHON" ] || PYTHON="$(command -v python3)"
mkdir -p "$ROOT/results"
cd "$ROOT/source/kit" || exit 1
"$PYTHON" -m embedlab autograde "$ROOT/submission" --results "$ROOT/results/results.json" @OPTIONS@
status=$?
if [ ! -s "$ROOT/results/results.json" ]; then
    printf '{"score": 0, "output": "The autograder could not grade this submission (embedlab exited with %s): ask your instructor.", "tests": []}\\n' "$status" >"$ROOT/results/results.json"
fi
exit 0
"""

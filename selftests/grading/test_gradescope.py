"""`embedlab gradescope`: a zip Gradescope can run, tried on a fake /autograder tree.

The zip is unpacked into `<tmp>/source` as Gradescope does, a submission is put in
`<tmp>/submission` in each layout a learner may upload, and `run_autograder` runs with
`EMBEDLAB_AUTOGRADER_ROOT=<tmp>` and this interpreter first on PATH (setup.sh would install the
same pins from PyPI; here they are already installed). Its results.json must hold Gradescope's
documented fields, every test, and the learner's points — whatever layout, and whatever the
submission's own copies of the tests say.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

from .conftest import ROOT, clean_env, run_cli, run_pytest
from .gradescope_fields import problems

# embed, cosine and rank answered; the challenges still stubs (and the applications not handed in).
ANSWERED = {"embed.py": "solutions", "similarity.py": "solutions", "challenges.py": "exercises"}
POINTS = 14 + 12 + 9
TOTAL = 52 + 43  # the section, and beyond it


@pytest.fixture(scope="module")
def autograder(tmp_path_factory) -> Path:
    """The zip, with a short time limit so that a hanging submission is quick to try."""
    zip_path = tmp_path_factory.mktemp("zip") / "autograder.zip"
    done = run_cli("gradescope", str(zip_path), "--timeout", "12", "--test-timeout", "3")
    assert done.returncode == 0, done.stdout + done.stderr
    return zip_path


def gradescope_run(zip_path: Path, root: Path, submission: dict[str, bytes]) -> dict:
    """Unpack as Gradescope does, place the submission, run run_autograder; its results.json."""
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(root / "source")
    for info in zipfile.ZipFile(zip_path).infolist():  # extractall drops the modes: put them back
        os.chmod(root / "source" / info.filename, (info.external_attr >> 16) & 0o777 or 0o644)
    for relative, data in submission.items():
        (root / "submission" / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / "submission" / relative).write_bytes(data)
    shutil.copy(root / "source" / "run_autograder", root / "run_autograder")
    env = clean_env(EMBEDLAB_AUTOGRADER_ROOT=str(root), PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    done = subprocess.run([str(root / "run_autograder")], cwd=root, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads((root / "results" / "results.json").read_text())


def exercise_files() -> dict[str, bytes]:
    return {name: (ROOT / folder / name).read_bytes() for name, folder in ANSWERED.items()}


def kit_copy(prefix: str) -> dict[str, bytes]:
    """A copy of the learner's repository: its exercises, and tests that give everything away."""
    files = {f"{prefix}exercises/{name}": data for name, data in exercise_files().items()}
    files[f"{prefix}exercises/__init__.py"] = b""
    files[f"{prefix}tests/test_1_embed.py"] = b"def test_free_points():\n    pass\n"
    files[f"{prefix}conftest.py"] = (ROOT / "conftest.py").read_bytes()
    return files


LAYOUTS = {
    "just the three files": exercise_files(),
    "the exercises folder": {f"exercises/{name}": data for name, data in exercise_files().items()},
    "the whole repository": kit_copy(""),
    "a zip of the repository's folder": kit_copy("embeddings-assignment/"),
}


def test_the_zip_holds_setup_run_autograder_and_the_instructors_files(autograder):
    archive = zipfile.ZipFile(autograder)
    names = set(archive.namelist())
    assert {"setup.sh", "run_autograder", "requirements.txt"} <= names
    for script in ("setup.sh", "run_autograder"):
        assert stat.S_IMODE(archive.getinfo(script).external_attr >> 16) & 0o111, f"{script} is not executable"
        check = subprocess.run(["bash", "-n"], input=archive.read(script), capture_output=True, timeout=30)
        assert check.returncode == 0, check.stderr
    shipped = {n.removeprefix("kit/"): archive.read(n) for n in names if n.startswith(("kit/tests/", "kit/cassettes/"))}
    ours = {p.relative_to(ROOT).as_posix(): p.read_bytes() for d in ("tests", "cassettes") for p in (ROOT / d).rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    assert shipped == ours  # the instructor's tests and cassettes, byte for byte
    assert {"kit/conftest.py", "kit/pyproject.toml", "kit/integrity.sha256", "kit/embedlab/grading/plugin.py"} <= names
    assert not any(n.startswith(("kit/solutions/", "kit/exercises/", "kit/selftests/", "solutions/")) for n in names)


def test_the_pins_are_the_versions_the_kit_is_tested_with(autograder):
    pins = [line for line in zipfile.ZipFile(autograder).read("requirements.txt").decode().splitlines() if line and not line.startswith("#")]
    names = {pin.split("==")[0].lower().replace("_", "-") for pin in pins}
    assert {"pytest", "openai", "vcrpy", "numpy", "pyyaml", "httpx2", "python-dotenv"} <= names
    for pin in pins:
        name, version = pin.split("==")
        assert metadata.version(name) == version, pin


@pytest.mark.parametrize("layout", LAYOUTS)
def test_run_autograder_grades_any_layout_with_the_instructors_tests(autograder, tmp_path, layout):
    results = gradescope_run(autograder, tmp_path, LAYOUTS[layout])
    assert problems(results) == []
    assert (results["score"], results["max_score"]) == (POINTS, TOTAL)
    statuses = {t["extra_data"]["exercise"]: t.get("status") for t in results["tests"] if t.get("status")}
    assert statuses["embed"] == "passed" and statuses["batch_vs_loop"] == "failed"
    flags = results["extra_data"]["flags"]
    if "repository" in layout:
        assert any("ships edited tests (test_1_embed.py" in f for f in flags), flags
    else:
        assert flags == []


def test_a_submission_that_hangs_still_lists_every_test_at_zero(autograder, tmp_path):
    hangs = {  # each function loops: six calls stopped at 3 s each outlast the 12 s the submission has
        file: "".join(f"def {name}(*args, **kwargs):\n    while True:\n        pass\n\n\n" for name in names).encode()
        for file, names in (("embed.py", ["embed"]), ("similarity.py", ["cosine", "rank"]),
                            ("challenges.py", ["confirm_intuition", "self_similarity", "batch_vs_loop"]))
    }  # fmt: skip
    results = gradescope_run(autograder, tmp_path, hangs)
    assert problems(results) == []
    assert results["score"] == 0 and results["max_score"] == TOTAL
    scored = [t for t in results["tests"] if t["max_score"] > 0]
    assert sum(t["max_score"] for t in scored) == TOTAL and len(scored) >= 30
    for test in scored:
        assert test["status"] == "failed" and test["score"] == 0 and "too long" in test["output"], test
    assert "too long" in results["output"].splitlines()[0]
    assert all("status" not in t for t in results["tests"] if t["max_score"] == 0)  # live checks: not run, not failed


def test_skipped_live_checks_are_not_failed(tmp_path):
    run = run_pytest("--solutions", "--live=off", tmp_path=tmp_path)
    live = [t for t in run.results["tests"] if "live" in t["tags"]]
    assert live and all("status" not in t and t["max_score"] == 0 and t["output"].startswith("skipped (not scored): ") for t in live)
    assert problems(run.results) == []
    scored = run_pytest("--solutions", "--live=off", "--score-live", tmp_path=tmp_path).results
    live = [t for t in scored["tests"] if "live" in t["tags"]]
    assert live and all(t["status"] == "failed" and t["score"] == 0 < t["max_score"] for t in live)  # points at stake, not earned


def test_setup_can_build_the_kit_from_the_zip(autograder, tmp_path):
    """setup.sh's `pip install --no-deps kit/` builds from the zip's own files (offline here)."""
    with zipfile.ZipFile(autograder) as archive:
        archive.extractall(tmp_path / "source")
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q", "-w", str(tmp_path / "wheel"), str(tmp_path / "source" / "kit")]
    done = subprocess.run(command, env=clean_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    names = zipfile.ZipFile(next((tmp_path / "wheel").glob("embedlab-*.whl"))).namelist()
    assert "embedlab/instructor/autograde.py" in names and "embedlab/grading/plugin.py" in names

"""`embedlab release`: the learner's repository, without the answers, grading itself as the kit does.

"No line of a solution body reaches the release" is checked line by line: every line of the body
of every function a learner writes (the functions of solutions/ whose body differs from the stub
in exercises/; docstrings, comments and bare syntax such as `else:` aside) is looked for in every
file of the release. The only lines allowed to be found are ones the kit's own machinery
(`tests/`, `embedlab/`) holds anyway — those files ship byte for byte as they are in the kit, which
this test checks too, and the grading tests never import the solutions (test_kit.py).
"""

from __future__ import annotations

import ast
import base64
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from embedlab.instructor import release

from .conftest import ROOT, clean_env, run_cli, run_pytest
from .gradescope_fields import problems

GRADER = ("example-course/embeddings-assignment", "v1")
BARE = re.compile(r"^(?:[\W_]*|else:|try:|finally:|pass|continue|break|(?:return|raise)(?: [\w.\[\](){}]+)?|\w+ = \[?\w+\]?)$")


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("release") / "embeddings-assignment"
    done = run_cli("release", str(folder), "--grader", "@".join(GRADER))
    assert done.returncode == 0, done.stdout + done.stderr
    return folder


def release_files(out: Path) -> dict[str, str]:
    return {p.relative_to(out).as_posix(): p.read_text(encoding="utf-8", errors="replace") for p in out.rglob("*") if p.is_file()}


def code(line: str) -> str:
    """A line as code: stripped, without a trailing comment."""
    return re.sub(r"\s+#.*$", "", line).strip()


def written_by_the_learner() -> dict[tuple[str, str], list[str]]:
    """(file, function) -> the non-trivial lines of its body in solutions/, for each function whose
    solution differs from its stub."""
    found = {}
    for solution in sorted((ROOT / "solutions").glob("*.py")):
        stubs = {n.name: n for n in ast.parse((ROOT / "exercises" / solution.name).read_text()).body if isinstance(n, ast.FunctionDef)}
        source = solution.read_text()
        lines = source.splitlines()
        for node in ast.parse(source).body:
            if not isinstance(node, ast.FunctionDef):
                continue
            body = node.body[1:] if ast.get_docstring(node) is not None else node.body
            stub = stubs.get(node.name)
            if stub is not None and ast.dump(ast.Module(body, [])) == ast.dump(ast.Module(stub.body[1:] if ast.get_docstring(stub) else stub.body, [])):
                continue  # the same code in both (a script's main): not an answer
            text = [code(line) for s in body for line in lines[s.lineno - 1 : s.end_lineno]]
            found[(solution.name, node.name)] = [t for t in text if t and not t.startswith("#") and not BARE.match(t)]
    return found


def test_no_line_of_a_solution_body_reaches_the_release(out):
    answers = written_by_the_learner()
    assert {fn for _, fn in answers} >= {"embed", "cosine", "rank", "confirm_intuition", "self_similarity", "batch_vs_loop"}
    assert sum(len(lines) for lines in answers.values()) > 30
    files = release_files(out)
    assert not any(name.startswith("solutions/") for name in files)
    leaks = []
    for name, text in files.items():
        kit_copy = ROOT / name
        shipped_machinery = name.startswith(("tests/", "embedlab/")) and kit_copy.is_file() and kit_copy.read_text() == text
        present = {code(line) for line in text.splitlines()}
        for (file, function), lines in answers.items():
            for line in lines:
                if line in present and not shipped_machinery:
                    leaks.append(f"{name}: {line!r} (solutions/{file}, {function})")
    assert leaks == []


def test_the_machinery_ships_as_it_is_in_the_kit(out):
    files = release_files(out)
    for name in files:
        if name.startswith(("tests/", "cassettes/", "embedlab/")) or name in ("conftest.py", "course.toml", "integrity.sha256", ".env.example"):
            assert (out / name).read_bytes() == (ROOT / name).read_bytes(), name
    kit = {p.relative_to(ROOT).as_posix() for d in ("tests", "cassettes", "embedlab") for p in (ROOT / d).rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    assert kit <= set(files)


def test_the_release_holds_a_learners_repository_and_nothing_else(out):
    files = set(release_files(out))
    tops = {name.split("/")[0] for name in files}
    assert tops == {"exercises", "tests", "cassettes", "embedlab", ".github", "docs", "README.md", "pyproject.toml", "conftest.py", "course.toml", "integrity.sha256", ".env.example", ".gitignore"}
    assert {f for f in files if f.startswith("docs/")} == {"docs/learners.md", "docs/map.png"}  # the learners' page and its picture, no instructor's
    assert {".github/workflows/grade.yml", ".github/workflows/embedlab-grade.yml"} == {f for f in files if f.startswith(".github/")}
    assert (out / "docs" / "learners.md").read_bytes() == (ROOT / "docs" / "learners.md").read_bytes()  # shipped whole, as it is
    readme = (out / "README.md").read_text()
    kit_first = re.search(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(), re.S).group(1).split("\n\n")[0].splitlines()[-1]
    commands = [line for line in re.search(r"```bash\n(.*?)```", readme, re.S).group(1).splitlines() if line and not line.startswith("#")]
    assert commands == [kit_first]  # the learner's command, not the contributors'
    assert "[docs/learners.md](docs/learners.md)" in readme and "## Your grade" in readme
    assert "solutions" not in readme and "solutions" not in (out / "docs" / "learners.md").read_text()
    assert "/".join(GRADER[:1]) in readme
    assert "[project.optional-dependencies]" in (out / "pyproject.toml").read_text() and "\ndev = [" not in (out / "pyproject.toml").read_text()


def test_the_release_grades_itself_offline_exactly_as_the_kit_does(out, tmp_path):
    report = tmp_path / "release.json"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", f"--grade-json={report}"],
        cwd=out, env=clean_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr  # nothing written yet: not a pass
    theirs = json.loads(report.read_text())
    ours = run_pytest(tmp_path=tmp_path).results  # the kit's own stubs
    assert {t["extra_data"]["embedlab_status"] for t in theirs["tests"] if "live" not in t["tags"]} == {"not started"}

    def graded(results: dict) -> list[tuple]:
        return [(t["extra_data"]["nodeid"], t["score"], t["max_score"], t.get("status"), t["output"]) for t in results["tests"] if "live" not in t["tags"]]

    assert graded(theirs) == graded(ours)
    assert (theirs["score"], theirs["max_score"]) == (ours["score"], ours["max_score"]) == (0, 95)
    check = subprocess.run([sys.executable, "-m", "embedlab", "integrity", "check"], cwd=out, env=clean_env(), capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout


def test_the_release_builds_a_package_on_its_own(out, tmp_path):
    """`pip install -e .` in the release installs the kit from the release's own files."""
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q", "-w", str(tmp_path), str(out)],
        env=clean_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    wheel = zipfile.ZipFile(next(tmp_path.glob("embedlab-*.whl")))
    names = set(wheel.namelist())
    assert {"embedlab/grading/plugin.py", "embedlab/course.py", "embedlab/common.py", "embedlab/server/cli.py"} <= names
    assert not any(n.startswith(("solutions/", "exercises/", "tests/")) for n in names)


def test_the_release_is_a_grader_for_the_workflow(out, tmp_path):
    """What the reusable workflow runs in the grader checkout: a learner's copy with an answer and
    edited tests, graded with the release's own tests, reported for GitHub and Classroom."""
    learner = tmp_path / "learner"
    for name in ("exercises", "tests"):
        (learner / name).mkdir(parents=True)
    for path in (out / "exercises").glob("*.py"):
        (learner / "exercises" / path.name).write_bytes(path.read_bytes())
    (learner / "exercises" / "embed.py").write_bytes((ROOT / "solutions" / "embed.py").read_bytes())
    (learner / "tests" / "test_1_embed.py").write_text("def test_free_points():\n    pass\n")
    outputs, summary = tmp_path / "outputs", tmp_path / "summary.md"
    outputs.touch()
    env = clean_env(GITHUB_OUTPUT=str(outputs), GITHUB_STEP_SUMMARY=str(summary))
    command = [sys.executable, "-m", "embedlab", "autograde", str(learner), "--results", str(tmp_path / "results" / "results.json"), "--github"]
    done = subprocess.run(command, cwd=out, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    results = json.loads((tmp_path / "results" / "results.json").read_text())
    assert problems(results) == [] and (results["score"], results["max_score"]) == (14, 95)
    assert "ships edited tests (test_1_embed.py; graded with yours)" in results["extra_data"]["flags"]
    assert "## embedlab: 14/95 points" in summary.read_text() and "ships edited tests" in summary.read_text()
    values = dict(line.split("=", 1) for line in outputs.read_text().splitlines())
    assert (values["score"], values["max-score"]) == ("14", "95")
    classroom = json.loads(base64.b64decode(values["result"]))
    assert classroom["version"] == 1 and classroom["status"] == "fail" and classroom["max_score"] == 95
    assert sum(t["score"] for t in classroom["tests"]) == 14  # what the reporter adds up: partial credit
    for test in classroom["tests"]:
        assert set(test) >= {"name", "status", "score", "max_score", "message"} and test["status"] in ("pass", "fail")
        assert (test["message"] == "") == (test["status"] == "pass")
    assert not any("live" in t["name"] for t in classroom["tests"])  # skipped, not scored: left out


def test_an_answered_exercise_is_never_released(tmp_path):
    kit = tmp_path / "kit"
    (kit / "exercises").mkdir(parents=True)
    (kit / "solutions").mkdir()
    for path in (ROOT / "solutions").glob("*.py"):
        (kit / "solutions" / path.name).write_bytes(path.read_bytes())
        (kit / "exercises" / path.name).write_bytes((ROOT / "exercises" / path.name).read_bytes())
    assert all(release.answered_functions(p, kit / "solutions" / p.name) == [] for p in (kit / "exercises").glob("*.py"))
    (kit / "exercises" / "similarity.py").write_bytes((ROOT / "solutions" / "similarity.py").read_bytes())
    stubbed = (kit / "exercises" / "embed.py").read_text(encoding="utf-8")
    body = stubbed[stubbed.index("    raise NotImplementedError") :].splitlines()[0]
    (kit / "exercises" / "embed.py").write_text(stubbed.replace(body, "    return texts"), encoding="utf-8")
    with pytest.raises(release.ReleaseError) as refused:
        release.write_release(kit, tmp_path / "out", *GRADER)
    said = str(refused.value)  # every answered file at once, each said for what it is (issue 28, item 11)
    assert "similarity.py: cosine and rank are the answers of solutions/, copied" in said, said
    assert "embed.py: embed is answered (it does more than raise NotImplementedError)" in said, said
    assert "differs from solutions/" not in said
    assert not (tmp_path / "out").exists()


def test_the_release_readme_names_only_what_the_release_holds(out):
    """Every path the learner's README and docs/learners.md name is in the release; it counts the learner's files right."""
    readme = (out / "README.md").read_text(encoding="utf-8") + (out / "docs" / "learners.md").read_text(encoding="utf-8")
    for named in set(re.findall(r"`((?:selftests|tests|exercises|docs|embedlab|cassettes)/[\w./-]*\.\w+)`", readme)):
        assert (out / named).exists(), named
    for linked in set(re.findall(r"\]\(([\w./-]+)(?:#[\w-]*)?\)", (out / "docs" / "learners.md").read_text(encoding="utf-8"))):
        assert (out / "docs" / linked).exists(), linked  # its relative links and pictures, beside it
    files = len(list((ROOT / "exercises").glob("[!_]*.py")))
    assert "the three files" not in readme and "the three files" not in (ROOT / "docs" / "learners.md").read_text(encoding="utf-8")
    assert files == 4

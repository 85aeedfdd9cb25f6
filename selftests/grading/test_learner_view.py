"""What a learner sees: a fresh checkout grades as "not started" with hints, the solutions pass on
every cassette set, the live checks run against `embedlab serve` or skip in one line, and the
exercise files run as scripts."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time

import pytest

from .conftest import ROOT, SETS, clean_env, run_pytest


def test_a_fresh_checkout_is_not_started_with_hints_and_no_traceback(tmp_path):
    run = run_pytest(tmp_path=tmp_path)
    assert run.code == 1, run.output  # non-zero until everything passes
    graded = {k: v for k, v in run.statuses().items() if "test_4_live" not in k}
    assert graded and set(graded.values()) == {"not started"}, graded
    assert "Traceback" not in run.output and "NotImplementedError" not in run.output
    assert "not started  embed" in run.output and "0 of 10 exercises done" in run.output
    assert "Next: embed() in exercises/embed.py is not written yet" in run.output and "Hint:" in run.output
    assert "EMBED_MODEL is not set" in run.output or all(
        v == "skipped" for k, v in run.statuses().items() if "test_4_live" in k
    )


@pytest.mark.parametrize("cassettes", SETS)
def test_the_solutions_get_full_marks_on_every_set(tmp_path, cassettes):
    run = run_pytest("--solutions", f"--cassettes={cassettes}", "--live=off", tmp_path=tmp_path)
    assert run.code == 0, run.output
    assert run.results["score"] == run.results["max_score"] > 0
    assert "10 of 10 exercises done" in run.output


def test_live_checks_pass_against_a_local_server(tmp_path):
    run = run_pytest("--solutions", "--live=local", "-m", "live", "--score-live", tmp_path=tmp_path)
    assert run.code == 0, run.output
    statuses = run.statuses()
    assert len(statuses) == 3 and set(statuses.values()) == {"passed"}, statuses
    assert run.results["score"] == 3


def test_live_checks_against_the_env_endpoint(tmp_path, local_server):
    env = clean_env(**local_server.environ)
    run = run_pytest("--solutions", "-m", "live", tmp_path=tmp_path, env=env)
    assert run.code == 0 and set(run.statuses().values()) == {"passed"}, run.output


@pytest.mark.parametrize(
    ("settings", "reason"),
    [
        ({}, "EMBED_MODEL is not set"),
        ({"EMBED_MODEL": "all-minilm", "OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}, "unreachable"),
        ({"EMBED_MODEL": "gpt-oss-120b"}, "may serve only a chat model"),
    ],
    ids=["unset", "unreachable", "chat-only"],
)
def test_live_checks_skip_in_one_line_within_seconds(tmp_path, local_server, settings, reason):
    env = clean_env(**settings)
    if settings.get("EMBED_MODEL") == "gpt-oss-120b":  # a real server that does not serve that model
        env["OPENAI_BASE_URL"] = local_server.base_url
    started = time.monotonic()
    run = run_pytest("--solutions", "-m", "live", "-rs", tmp_path=tmp_path, env=env)
    assert time.monotonic() - started < 30
    assert run.code == 0, run.output
    assert set(run.statuses().values()) == {"skipped"}
    skips = [line for line in run.output.splitlines() if line.startswith("SKIPPED")]
    assert skips and all(reason in line for line in skips), skips
    assert "127.0.0.1" not in run.output.replace(local_server.base_url, "")  # no host in the reason


def script(module: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", module], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_scripts_say_in_one_line_how_to_set_a_model():
    done = script("exercises.similarity", clean_env())
    assert done.returncode != 0
    assert done.stdout == "" and len(done.stderr.strip().splitlines()) == 1
    assert "EMBED_MODEL" in done.stderr and "embedlab serve" in done.stderr


def test_a_stub_script_says_which_function_is_still_to_write(local_server):
    done = script("exercises.similarity", clean_env(**local_server.environ))
    assert done.returncode != 0 and done.stderr.startswith("rank() in exercises/similarity.py is not written yet.")
    assert "Traceback" not in done.stderr


def test_solution_scripts_print_the_section_output(local_server):
    env = clean_env(**local_server.environ)
    similarity = script("solutions.similarity", env)
    assert similarity.returncode == 0, similarity.stderr
    ranked = [line.split(" ", 1)[1] for line in similarity.stdout.strip().splitlines()]
    assert set(ranked[:2]) == {"The cat sat on the mat.", "A feline napped on the soft rug."}
    embedded = script("solutions.embed", env)
    assert embedded.returncode == 0 and "vectors: 2 | dimensions:" in embedded.stdout
    challenges = script("solutions.challenges", env)
    assert challenges.returncode == 0 and "cheaper:" in challenges.stdout


def test_a_chat_only_endpoint_is_named_in_the_script_message(local_server):
    env = clean_env(**{**local_server.environ, "EMBED_MODEL": "gpt-oss-120b"})
    done = script("solutions.similarity", env)
    assert done.returncode != 0 and "chat model" in done.stderr and "Traceback" not in done.stderr


def test_grading_works_in_a_copy_without_solutions(tmp_path):
    """A learner's copy may ship without solutions/: the tests never need it."""
    copy = tmp_path / "kit"
    for name in ("tests", "cassettes", "exercises"):
        shutil.copytree(ROOT / name, copy / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("conftest.py", "course.toml", "pyproject.toml"):
        shutil.copy(ROOT / name, copy / name)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--live=off"],
        cwd=copy, env=clean_env(), capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    stats = next(line for line in done.stdout.splitlines() if re.search(r"\b\d+ not started\b", line))
    assert "passed" not in stats and "failed" not in stats, stats

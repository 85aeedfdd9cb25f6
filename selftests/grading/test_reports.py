"""Reports for CI: Gradescope's results.json, a GitHub job summary, points per exercise."""

from __future__ import annotations

from .conftest import clean_env, run_pytest


def test_results_json_has_gradescopes_shape(tmp_path):
    run = run_pytest("--solutions", "--live=off", tmp_path=tmp_path)
    results = run.results
    assert set(results) >= {"score", "max_score", "tests", "output", "visibility"}
    assert results["score"] == sum(t["score"] for t in results["tests"])
    assert results["max_score"] == sum(t["max_score"] for t in results["tests"])
    for test in results["tests"]:
        assert set(test) >= {"name", "score", "max_score", "output", "visibility"}
        assert test.get("status") in ("passed", "failed") or ("skipped" in test["tags"] and test["max_score"] == 0)
    exercises = results["extra_data"]["exercises"]
    assert list(exercises)[:6] == ["embed", "cosine", "rank", "confirm_intuition", "self_similarity", "batch_vs_loop"]
    live = [t for t in results["tests"] if "live" in t["tags"]]
    assert live and all(t["max_score"] == 0 for t in live)  # reported, not scored unless asked


def test_a_failing_test_reports_its_sentence(tmp_path):
    run = run_pytest(tmp_path=tmp_path)
    not_started = [t for t in run.results["tests"] if t["extra_data"]["embedlab_status"] == "not started"]
    assert not_started and all("Hint:" in t["output"] for t in not_started)
    assert run.results["score"] == 0


def test_a_github_job_summary_is_written_when_asked(tmp_path):
    summary = tmp_path / "summary.md"
    run_pytest("--solutions", "--live=off", tmp_path=tmp_path, env=clean_env(GITHUB_STEP_SUMMARY=str(summary)))
    text = summary.read_text()
    assert text.startswith("## embedlab:") and "| embed | done |" in text


def test_no_secret_reaches_a_report(tmp_path):
    secret = "sk-canary-0123456789abcdef"
    private = "http://127.0.0.1:9/private-canary-path/v1"  # a closed loopback port: unreachable, on this machine
    env = clean_env(OPENAI_API_KEY=secret, EMBED_MODEL="m", OPENAI_BASE_URL=private)
    run = run_pytest("--solutions", "--live=env", tmp_path=tmp_path, env=env)
    report = (tmp_path / "results-0.json").read_text()
    for leaked in (secret, "private-canary-path", "127.0.0.1:9"):
        assert leaked not in run.output and leaked not in report

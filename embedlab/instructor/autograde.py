"""Grade one learner's work with this kit's tests and cassettes: `embedlab autograde SUBMISSION`.

What Gradescope's `run_autograder` (`embedlab gradescope`) and the GitHub workflow
(`.github/workflows/embedlab-grade.yml`) run. SUBMISSION is one learner's work in any layout
`embedlab grade` accepts: their `exercises/` folder, a copy of the kit or of the learner release,
or just the three files. It is graded exactly as `embedlab grade` grades a class (read into memory
first, your tests and cassettes, the learner's code in a worker process, results over a pipe), and
the learner's own copies of the tests and cassettes are ignored and flagged when they differ.

Writes Gradescope's results.json (`--results`). With `--github`, also the GitHub job summary and
the step outputs `score`, `max-score` and `result`: the base64 JSON that GitHub Classroom's
autograding reporter (`classroom-resources/autograding-grading-reporter`, runner `embedlab`)
reads, so the points show in the teacher's dashboard.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
from pathlib import Path

MESSAGE_CAP = 600  # characters of a failure's message sent to Classroom


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("submission", type=Path, help="the learner's work: exercises/, a copy of the kit or release, or the three files")
    parser.add_argument("--results", type=Path, default=Path("results.json"), help="where results.json goes (default: results.json)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds the whole grading may take (default 300)")
    parser.add_argument("--test-timeout", type=float, default=5.0, help="seconds one call to the learner's code may take (default 5)")
    parser.add_argument("--cassettes", metavar="NAME", help="the cassette set to grade against (default: the kit's)")
    parser.add_argument("--no-sandbox", action="store_true", help="no namespaces for the workers (Landlock, seccomp and the user wall still stand)")
    parser.add_argument("--allow-root-worker", action="store_true", help="grade even where a worker can only run as root (named in the results and the CSV)")
    parser.add_argument(
        "--github", action="store_true", help="also write the GitHub job summary and the step outputs score, max-score and result (for Classroom)"
    )


def run(args: argparse.Namespace) -> int:
    from embedlab import kit
    from embedlab.grading.report import Scorecard
    from embedlab.instructor import grading_process, runner
    from embedlab.instructor.gradebook import results_json
    from embedlab.instructor.records import GradeSettings, Snapshot
    from embedlab.instructor.submissions import read_submission

    if not args.submission.is_dir():
        print(f"embedlab autograde: {args.submission} is not a folder", file=sys.stderr)
        return 2
    root = kit.find_root()
    from embedlab import course

    course.checked(root)  # a catalogue that disagrees with the kit stops here, in one sentence
    # Read now: the grader clears GITHUB_* (and every key) before the learner's code runs.
    github = {name: os.environ.get(name) for name in ("GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY")} if args.github else {}
    snapshot = Snapshot.take(root)
    submission = read_submission(args.submission.resolve().name or "submission", args.submission, snapshot)
    args.results.parent.mkdir(parents=True, exist_ok=True)
    readonly = (root.resolve(), args.submission.resolve(), args.results.parent.resolve())
    refused = runner.decide_walls("autograde", no_sandbox=args.no_sandbox, allow_root=args.allow_root_worker)
    if refused:
        print(refused, file=sys.stderr)
        return 2
    settings = GradeSettings(root, args.cassettes, args.timeout, args.test_timeout, readonly)
    one = runner.grade_all([submission], settings, snapshot, jobs=1)[0]
    data = results_json(one, grading_process.every_test(settings, snapshot) if one.results is None else None)
    args.results.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")

    book = Scorecard.from_gradescope(data)
    notes = [f"Flagged: {flag}" for flag in one.flags]
    print("\n".join([*book.summary_lines(), *(["", *notes] if notes else [])]))
    if github.get("GITHUB_STEP_SUMMARY"):
        with open(github["GITHUB_STEP_SUMMARY"], "a", encoding="utf-8") as handle:
            handle.write(book.markdown() + "".join(f"\n> **{note}**\n" for note in notes))
    if github.get("GITHUB_OUTPUT"):
        encoded = base64.b64encode(json.dumps(classroom_results(data)).encode("utf-8")).decode("ascii")
        with open(github["GITHUB_OUTPUT"], "a", encoding="utf-8") as handle:
            handle.write(f"score={data['score']:g}\nmax-score={data['max_score']:g}\nresult={encoded}\n")
    return 0


def classroom_results(results: dict) -> dict:
    """results.json as GitHub Classroom's autograding reporter reads it: `{version: 1, status,
    max_score, tests: [{name, status, score, max_score, message, test_code, filename}]}`, status
    "pass", "fail" or "error" (nothing could be graded). The reporter adds up the tests' scores
    out of `max_score`: partial credit shows. Checks skipped without points are left out."""
    tests = []
    for test in results.get("tests", []):
        if "status" not in test:  # skipped, not scored (see Scorecard.gradescope)
            continue
        extra = test.get("extra_data", {})
        passed = test["status"] == "passed"
        tests.append(
            {
                "name": test["name"],
                "status": "pass" if passed else "fail",
                "score": test["score"],
                "max_score": test["max_score"],
                "message": "" if passed else _cap(str(test.get("output", ""))),
                "test_code": str(extra.get("nodeid", "")),
                "filename": str(extra.get("file", "")),
            }
        )
    graded = results.get("extra_data", {}).get("status", "graded") == "graded"
    status = "error" if not graded else ("pass" if all(t["status"] == "pass" for t in tests) else "fail")
    return {"version": 1, "status": status, "max_score": results.get("max_score", 0), "tests": tests}


def _cap(text: str) -> str:
    return text if len(text) <= MESSAGE_CAP else text[: MESSAGE_CAP - 1] + "…"

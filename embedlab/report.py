"""Points and progress: the end-of-run summary, Gradescope's results.json, a GitHub job summary.

Each grading test carries `@pytest.mark.exercise(name, file)` and `@pytest.mark.points(n)`; the
plugin turns every finished test into a `Result`, and this module only formats them.
"""

from __future__ import annotations

import json
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

LIVE = "live checks"
BAR_WIDTH = 24
WIDTH = 100


@dataclass
class Result:
    nodeid: str
    exercise: str
    file: str  # the learner's file, e.g. "exercises/similarity.py"
    title: str  # what the test checks, in words
    points: float
    live: bool
    status: str = "passed"  # passed | failed | not started | skipped
    message: str = ""


@dataclass
class Exercise:
    name: str
    file: str
    live: bool
    results: list[Result] = field(default_factory=list)

    @property
    def status(self) -> str:
        statuses = {r.status for r in self.results}
        if statuses <= {"skipped"}:
            return "skipped"
        if statuses <= {"passed", "skipped"}:
            return "done"
        if statuses <= {"not started", "skipped"}:
            return "not started"
        return "failing"

    @property
    def earned(self) -> float:
        return sum(r.points for r in self.results if r.status == "passed")

    @property
    def possible(self) -> float:
        return sum(r.points for r in self.results)

    def first_problem(self) -> Result | None:
        return next((r for r in self.results if r.status in ("failed", "not started")), None)


@dataclass
class Gradebook:
    results: list[Result] = field(default_factory=list)
    score_live: bool = False

    def add(self, result: Result) -> None:
        self.results.append(result)

    def exercises(self) -> list[Exercise]:
        found: dict[str, Exercise] = {}
        for result in self.results:
            exercise = found.setdefault(result.exercise, Exercise(result.exercise, result.file, result.live))
            exercise.results.append(result)
        return list(found.values())

    def scored(self, result: Result) -> bool:
        return not result.live or self.score_live

    @property
    def earned(self) -> float:
        return sum(r.points for r in self.results if r.status == "passed" and self.scored(r))

    @property
    def possible(self) -> float:
        return sum(r.points for r in self.results if self.scored(r))

    # -- the terminal ----------------------------------------------------------------------------

    def summary_lines(self) -> list[str]:
        exercises = self.exercises()
        graded = [e for e in exercises if not e.live or self.score_live]
        lines = []
        for exercise in exercises:
            passed = sum(r.status == "passed" for r in exercise.results)
            checks = f"{passed}/{len(exercise.results)} checks"
            if exercise.live and not self.score_live:
                points = "not scored"
            else:
                points = f"{_num(exercise.earned)}/{_num(exercise.possible)} pts"
            status = exercise.status
            if status == "skipped":
                detail = exercise.results[0].message.splitlines()[0] if exercise.results[0].message else ""
                lines.append(f"  {'skipped':<12} {exercise.name:<18} {detail}")
                continue
            lines.append(f"  {status:<12} {exercise.name:<18} {exercise.file:<26} {checks:<11} {points}")
        done = sum(e.status == "done" for e in graded)
        lines.append("")
        if not graded:
            lines.append("  Only live checks ran: they are reported, and scored only with --score-live.")
            return lines
        lines.append(
            f"  Total: {_num(self.earned)}/{_num(self.possible)} points  {_bar(self.earned, self.possible)}  "
            f"{done} of {len(graded)} exercises done"
        )
        lines.extend(self.next_step(graded))
        return lines

    def next_step(self, graded: list[Exercise]) -> list[str]:
        """What to do next, Rustlings-style: the first exercise that is not done, and why."""
        for exercise in graded:
            problem = exercise.first_problem()
            if problem is None:
                continue
            if problem.status == "not started":
                return ["", *_wrap(f"Next: {problem.message}")]
            return ["", *_wrap(f"Next: fix {exercise.name} in {exercise.file} — {problem.title}:"), *_wrap(problem.message, "    ")]
        if graded:
            return ["", *_wrap("Everything passes. Well done! Now try the live checks: set EMBED_MODEL in .env, or run `pytest --live local`.")]
        return []

    # -- machine-readable ------------------------------------------------------------------------

    def gradescope(self, extra: dict | None = None) -> dict:
        """Gradescope's results.json (also read by GitHub Classroom tooling)."""
        tests = []
        for number, result in enumerate(self.results, start=1):
            scored = self.scored(result)
            tests.append(
                {
                    "name": f"{result.exercise}: {result.title}",
                    "number": str(number),
                    "score": result.points if (result.status == "passed" and scored) else 0,
                    "max_score": result.points if scored else 0,
                    "status": "passed" if result.status == "passed" else "failed",
                    "output": _output(result),
                    "tags": [result.exercise] + (["live"] if result.live else []),
                    "visibility": "visible",
                    "extra_data": {"nodeid": result.nodeid, "embedlab_status": result.status},
                }
            )
        return {
            "score": self.earned,
            "max_score": self.possible,
            "output": "\n".join(self.summary_lines()),
            "visibility": "visible",
            "stdout_visibility": "hidden",
            "tests": tests,
            "extra_data": {
                "exercises": {
                    e.name: {"status": e.status, "score": e.earned, "max_score": e.possible, "live": e.live}
                    for e in self.exercises()
                },
                **(extra or {}),
            },
        }

    def write_json(self, path: Path, extra: dict | None = None) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.gradescope(extra), indent=2) + "\n", encoding="utf-8")

    def markdown(self) -> str:
        """The same, as a GitHub job summary."""
        rows = ["| exercise | status | checks | points |", "|---|---|---|---|"]
        for exercise in self.exercises():
            passed = sum(r.status == "passed" for r in exercise.results)
            points = "not scored" if (exercise.live and not self.score_live) else f"{_num(exercise.earned)}/{_num(exercise.possible)}"
            rows.append(f"| {exercise.name} | {exercise.status} | {passed}/{len(exercise.results)} | {points} |")
        problems = [r for r in self.results if r.status in ("failed", "not started")]
        text = f"## embedlab: {_num(self.earned)}/{_num(self.possible)} points\n\n" + "\n".join(rows) + "\n"
        if problems:
            text += "\n<details><summary>What to fix</summary>\n\n"
            for r in problems:
                text += f"- **{r.exercise}: {r.title}** ({r.status}) — {_first_line(r.message)}\n"
            text += "\n</details>\n"
        return text


def _output(result: Result) -> str:
    if result.status == "passed":
        return "passed"
    return f"{result.status}: {result.message}"


def _num(value: float) -> str:
    return f"{value:g}"


def _bar(earned: float, possible: float) -> str:
    filled = round(BAR_WIDTH * earned / possible) if possible else 0
    return "[" + "#" * filled + "-" * (BAR_WIDTH - filled) + "]"


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def _wrap(text: str, indent: str = "  ") -> list[str]:
    """Lines of at most WIDTH characters, each paragraph's continuation indented under its start."""
    lines = []
    for paragraph in text.strip().splitlines():
        lines.extend(textwrap.wrap(paragraph, WIDTH, initial_indent=indent, subsequent_indent=indent + "  ") or [""])
    return lines

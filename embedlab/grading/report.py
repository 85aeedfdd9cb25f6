"""Points and progress: the end-of-run summary, Gradescope's results.json, a GitHub job summary.

Each grading test carries `@pytest.mark.exercise(name)` and `@pytest.mark.points(n)`; the plugin
turns every finished test into a `Result`, and this module only formats them, in the order and the
parts of the course catalogue when it has one (`embedlab.course`).
"""

from __future__ import annotations

import json
import re
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from embedlab.course import LIVE

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
    raised: str = ""  # the exception the learner's code raised, when that is what failed the check
    broken: str = ""  # the learner's file that does not import, when that is what failed it
    printed: str = ""  # what the learner's code printed during a failed check (shortened)
    where: str = ""  # a wrong value's line in `file`: "line 14", its function's return (grading.source)
    lesson: bool = False  # @pytest.mark.lesson: the exercise's main lesson, shown first by "Next:"


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
        if self.waits_on():
            return "waiting"
        return "failing"

    def waits_on(self) -> str | None:
        """The other file this exercise waits on: every check it failed, failed because that file,
        which its own file imports, does not import (so nothing of its own was tried)."""
        failed = [r for r in self.results if r.status not in ("passed", "skipped")]
        others = {r.broken for r in failed}
        if failed and len(others) == 1 and "" not in others and self.file not in others:
            return others.pop()
        return None

    @property
    def earned(self) -> float:
        return sum(r.points for r in self.results if r.status == "passed")

    @property
    def possible(self) -> float:
        return sum(r.points for r in self.results)

    def first_problem(self) -> Result | None:
        """The check "Next:" shows: a failing check of the exercise's main lesson (marked
        `@pytest.mark.lesson`) before the others, each kind in the tests' order."""
        problems = [r for r in self.results if r.status in ("failed", "not started")]
        return min(problems, key=lambda r: not r.lesson) if problems else None


@dataclass
class RunInfo:
    """What the run covered, for the closing words: how many checks were collected, whether it was
    the whole section (no -k, no single file), why it stopped early, and the live endpoint."""

    collected: int = 0
    whole_section: bool = True
    stopped: str | None = None
    live_label: str = "live checks"


@dataclass
class Scorecard:
    results: list[Result] = field(default_factory=list)
    score_live: bool = False
    course: Any = None  # an embedlab.course.Course: the rows' order and parts

    def add(self, result: Result) -> None:
        self.results.append(result)

    @classmethod
    def from_gradescope(cls, results: dict, score_live: bool = False, course: Any = None) -> Scorecard:
        """The gradebook a grading run wrote as results.json (`gradescope()`), read back."""
        book = cls(score_live=score_live, course=course)
        for test in results.get("tests", []):
            extra = test.get("extra_data", {})
            book.add(
                Result(
                    nodeid=str(extra.get("nodeid", "")),
                    exercise=str(extra.get("exercise", "")),
                    file=str(extra.get("file", "")),
                    title=str(extra.get("title", "")),
                    points=float(extra.get("points", 0)),
                    live=bool(extra.get("live")),
                    status=str(extra.get("embedlab_status", "failed")),
                    message=str(extra.get("message", "")),
                    raised=str(extra.get("raised", "")),
                    broken=str(extra.get("broken", "")),
                    printed=str(extra.get("printed", "")),
                    where=str(extra.get("where", "")),
                    lesson=bool(extra.get("lesson")),
                )
            )
        return book

    def exercises(self) -> list[Exercise]:
        found: dict[str, Exercise] = {}
        for result in self.results:
            exercise = found.setdefault(result.exercise, Exercise(result.exercise, result.file, result.live))
            exercise.results.append(result)
        rows = list(found.values())
        if self.course is not None:
            rows.sort(key=lambda e: (e.live, self.course.index(e.name)))
        return rows

    def part_of(self, exercise: Exercise) -> str | None:
        listed = self.course.get(exercise.name) if self.course is not None else None
        return listed.part if listed else None

    def scored(self, result: Result) -> bool:
        return not result.live or self.score_live

    @property
    def earned(self) -> float:
        return sum(r.points for r in self.results if r.status == "passed" and self.scored(r))

    @property
    def possible(self) -> float:
        return sum(r.points for r in self.results if self.scored(r))

    # -- the terminal ----------------------------------------------------------------------------

    def summary_lines(self, run: RunInfo | None = None, width: int = WIDTH) -> list[str]:
        """The table, the total and what to do next, fitted to `width` columns."""
        run = run or RunInfo()
        width = max(60, min(width, 120))
        exercises = self.exercises()
        graded = [e for e in exercises if not e.live or self.score_live]
        show_file = width >= 96
        lines: list[str] = []
        parts = list(dict.fromkeys(self.part_of(e) for e in exercises if not e.live))
        heading = None
        for exercise in exercises:
            part = self.part_of(exercise)
            if len(parts) > 1 and part is not None and part != heading:  # each part with its subtotal
                heading = part
                mine = [e for e in graded if self.part_of(e) == part]
                earned, possible = sum(e.earned for e in mine), sum(e.possible for e in mine)
                title = self.course.part_title(part) if self.course is not None else part
                lines.append(_fit(f"  {title}: {points_shown(earned)}/{points_shown(possible)} points", width))
            passed = sum(r.status == "passed" for r in exercise.results)
            checks = f"{passed}/{len(exercise.results)} checks"
            points = "not scored" if exercise.live and not self.score_live else f"{points_shown(exercise.earned)}/{points_shown(exercise.possible)} pts"
            status = exercise.status
            if status == "skipped":  # the reason wraps under itself: it is what to do next
                detail = _first_line(exercise.results[0].message)
                lines.extend(_hanging(f"  {'skipped':<12} {exercise.name:<18} ", detail, width))
                continue
            where = f"{exercise.file:<26} " if show_file and not exercise.live else ""
            row = f"  {status:<12} {exercise.name:<18} {where}{checks:<11} {points}"
            if exercise.live and run.live_label != LIVE:  # which model, on what, without its address
                label = f"  ({run.live_label})"
                lines.append(row + label if len(row + label) <= width else row)
                if len(row + label) > width:
                    lines.append(_fit(f"{'':<15}{run.live_label}", width))
                continue
            lines.append(_fit(row, width))
        done = sum(e.status == "done" for e in graded)
        lines.append("")
        if not graded:
            lines.append(_fit("  Only live checks ran: they are reported, and scored only with --score-live.", width))
            return lines
        lines.append(
            f"  Total: {points_shown(self.earned)}/{points_shown(self.possible)} points  {progress_bar(self.earned, self.possible)}  "
            f"{done} of {len(graded)} {'exercise' if len(graded) == 1 else 'exercises'} done"
        )
        ran = len(self.results)
        if run.collected and ran < run.collected:
            lines.append(_fit(f"  Only {ran} of {run.collected} checks ran ({run.stopped or 'stopped early'}): the total is not your grade.", width))
        lines.extend(self.next_step(graded, run, width))
        return lines

    def next_step(self, graded: list[Exercise], run: RunInfo | None = None, width: int = WIDTH) -> list[str]:
        """What to do next, Rustlings-style: the first exercise that is not done, and why — a cause
        shared by several tests (a syntax error, a missing function) said once, with their count."""
        run = run or RunInfo()
        broken = next((r.broken for r in self.results if r.status == "failed" and r.broken), None)
        if broken is not None:  # a file that does not import: it blocks everything that imports it, fix it first
            stopped = [r for r in self.results if r.broken == broken and r.status == "failed"]
            own = next((r for r in stopped if r.file == broken), stopped[0])
            waiting = [f for f in dict.fromkeys(r.file for r in stopped) if f != broken]
            why = f"this stops {len(stopped)} {'check' if len(stopped) == 1 else 'checks'}"
            if waiting:
                why += f"; {_and(waiting)} {'imports' if len(waiting) == 1 else 'import'} it and {'waits' if len(waiting) == 1 else 'wait'} on it"
            message = own.message if own.file == broken else own.message.partition("which does not import: ")[2] or own.message
            return ["", *wrap_line(f"Next: fix {broken} ({why}):", width=width), *wrap_line(message, "    ", width), *self._printed(own, width)]
        for exercise in graded:
            problem = exercise.first_problem()
            if problem is None:
                continue
            same = sum(r.message == problem.message and r.status == problem.status for r in self.results)
            blocks = f" (this stops {same} checks)" if same > 1 and problem.status != "not started" else ""
            if problem.status == "not started":
                return ["", *wrap_line(f"Next: {problem.message}", width=width)]
            if problem.raised:  # the exception leads, with the exercise's advice
                same = sum(_same_exception(r, problem) for r in self.results)
                blocks = f" (this stops {same} checks)" if same > 1 else ""
                listed = self.course.get(exercise.name) if self.course is not None else None
                hint = f"Hint: {' '.join(listed.hint.split())}" if listed is not None and listed.hint.strip() else ""
                return [
                    "",
                    *wrap_line(f"Next: fix {exercise.name} in {exercise.file} — it raised {problem.raised}{blocks}:", width=width),
                    *wrap_line(problem.message, "    ", width),
                    *(wrap_line(hint, "    ", width) if hint else []),
                    *self._printed(problem, width),
                ]
            where = f", {problem.where}" if problem.where else ""
            return [
                "",
                *wrap_line(f"Next: fix {exercise.name} in {exercise.file}{where} — {problem.title}{blocks}:", width=width),
                *wrap_line(problem.message, "    ", width),
                *self._printed(problem, width),
            ]
        return ["", *wrap_line(self.closing(run), width=width)]

    @staticmethod
    def _printed(result: Result, width: int, shown: int = 3) -> list[str]:
        """What the learner's code printed during the check, its first lines shortened: a beginner
        debugs with print(), and pytest keeps it out of sight."""
        lines = [line for line in result.printed.splitlines() if line.strip()]
        if not lines:
            return []
        how = f"`pytest -s -k {result.exercise}` shows it all" if result.exercise and result.exercise != LIVE else "`pytest -s -m live` shows it all"
        cut = re.fullmatch(r"… \(([\d,]+) bytes in all\)", lines[-1].strip())  # the worker kept only its start
        count = f"{cut.group(1)} bytes" if cut else f"{len(lines)} line" + ("" if len(lines) == 1 else "s")
        lines = lines[:-1] if cut else lines
        head = wrap_line(f"Your code printed {count} during this check ({how}):", "    ", width)
        return head + [_fit("      " + " ".join(line.split()), width) for line in lines[:shown]] + (["      …"] if len(lines) > shown else [])

    def closing(self, run: RunInfo) -> str:
        """The last line when nothing is left to fix: it speaks of what actually ran."""
        live = [r for r in self.results if r.live]
        if not run.whole_section:
            names = ", ".join(dict.fromkeys(r.exercise for r in self.results if not r.live))
            return f"Everything selected passes ({names}). Run `pytest` to grade the whole course."
        if live and all(r.status == "passed" for r in live):
            return f"Everything passes, and so do the live checks ({run.live_label}). Well done: the section is complete."
        if live and any(r.status == "failed" for r in live):
            first = next(r for r in live if r.status == "failed")
            return f"Everything passes offline. On your endpoint: {first.title} — {_first_line(first.message)}"
        if live and all(r.status == "skipped" for r in live):  # why they did not run says what to do
            return f"Everything passes. Well done! The live checks did not run: {_first_line(live[0].message)}."
        return "Everything passes. Well done! Now try the live checks: set EMBED_MODEL in .env, or run `pytest --live local`."

    # -- machine-readable ------------------------------------------------------------------------

    def gradescope(self, extra: dict | None = None) -> dict:
        """Gradescope's results.json (also read by `embedlab autograde` for GitHub Classroom).

        Gradescope knows two statuses, "passed" and "failed". A check that was skipped and carries
        no points (a live check without an endpoint) is neither: it keeps its place in `tests`
        with 0 of 0 points, no `status` and "skipped (not scored): why" as its output. A skipped
        check that does carry points (live checks with --score-live) is "failed": 0 of its points.
        """
        tests = []
        for number, result in enumerate(self.results, start=1):
            scored = self.scored(result)
            unscored_skip = result.status == "skipped" and not scored
            status = {} if unscored_skip else {"status": "passed" if result.status == "passed" else "failed"}
            tests.append(
                {
                    "name": f"{result.exercise}: {result.title}",
                    "number": str(number),
                    "score": result.points if (result.status == "passed" and scored) else 0,
                    "max_score": result.points if scored else 0,
                    **status,
                    "output": f"skipped (not scored): {result.message}" if unscored_skip else _output(result),
                    "output_format": "text",
                    "tags": [result.exercise] + (["live"] if result.live else []) + (["skipped"] if result.status == "skipped" else []),
                    "visibility": "visible",
                    "extra_data": {
                        "nodeid": result.nodeid,
                        "embedlab_status": result.status,
                        "exercise": result.exercise,
                        "file": result.file,
                        "title": result.title,
                        "message": result.message,
                        "points": result.points,
                        "live": result.live,
                        "lesson": result.lesson,
                        **{k: v for k, v in (("raised", result.raised), ("broken", result.broken), ("printed", result.printed), ("where", result.where)) if v},
                    },
                }
            )
        return {
            "score": self.earned,
            "max_score": self.possible,
            "output": "\n".join(self.summary_lines()),
            "output_format": "text",
            "visibility": "visible",
            "stdout_visibility": "hidden",
            "tests": tests,
            "extra_data": {
                "exercises": {
                    e.name: {
                        "status": e.status,
                        "score": e.earned if (self.score_live or not e.live) else 0,
                        "max_score": e.possible if (self.score_live or not e.live) else 0,
                        "live": e.live,
                    }
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
            points = "not scored" if (exercise.live and not self.score_live) else f"{points_shown(exercise.earned)}/{points_shown(exercise.possible)}"
            rows.append(f"| {exercise.name} | {exercise.status} | {passed}/{len(exercise.results)} | {points} |")
        problems = [r for r in self.results if r.status in ("failed", "not started")]
        text = f"## embedlab: {points_shown(self.earned)}/{points_shown(self.possible)} points\n\n" + "\n".join(rows) + "\n"
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


def points_shown(value: float) -> str:
    return f"{value:g}"


def progress_bar(earned: float, possible: float) -> str:
    filled = round(BAR_WIDTH * earned / possible) if possible else 0
    return "[" + "#" * filled + "-" * (BAR_WIDTH - filled) + "]"


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


_NBSP = "\u00a0"


def wrap_line(text: str, indent: str = "  ", width: int = WIDTH) -> list[str]:
    """Lines of at most `width` characters, each paragraph's continuation indented under its start;
    a `command in backticks` is never split across lines."""
    lines = []
    for paragraph in text.strip().splitlines():
        kept = re.sub(r"`[^`]*`", lambda m: m.group(0).replace(" ", _NBSP), paragraph)
        wrapped = textwrap.wrap(kept, width, initial_indent=indent, subsequent_indent=indent + "  ", break_on_hyphens=False, break_long_words=False) or [""]
        lines.extend(line.replace(_NBSP, " ") for line in wrapped)
    return lines


def _same_exception(result: Result, problem: Result) -> bool:
    """`result` failed on the exception `problem` shows (same type, same words), raised where a
    value was expected or where another exception was."""
    raised = next((line.partition(" raised ")[2] for line in problem.message.splitlines() if " raised " in line), "")
    return result.status == "failed" and bool(raised) and f" raised {raised[:80]}" in result.message


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _hanging(prefix: str, text: str, width: int) -> list[str]:
    """`prefix` then `text`, wrapped under the text's own start (a table row's last column)."""
    if len(prefix) + 20 > width:
        return [_fit(prefix + text, width)]
    kept = re.sub(r"`[^`]*`", lambda m: m.group(0).replace(" ", _NBSP), text)
    lines = textwrap.wrap(kept, width - len(prefix), break_on_hyphens=False, break_long_words=False) or [""]
    return [(prefix if i == 0 else " " * len(prefix)) + line.replace(_NBSP, " ") for i, line in enumerate(lines)]


def _fit(line: str, width: int) -> str:
    return line if len(line) <= width else line[: width - 1] + "…"

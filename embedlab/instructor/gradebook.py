"""The class's gradebook as people and machines read it: the CSV (columns from the course
catalogue, cells a spreadsheet shows as text), one results file per submission with a name that
is safe and never shared, the summary printed at the end, the progress line while grading."""

from __future__ import annotations

import csv
import hashlib
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from embedlab import course

if TYPE_CHECKING:
    from embedlab.instructor.records import Graded


def exercise_files() -> tuple[str, ...]:
    """The learner's files, from the course catalogue: what makes a submission."""
    return tuple(Path(f).name for f in course.load().files)


def exercise_names() -> list[str]:
    """The exercises in the course's order: the gradebook's columns."""
    return course.load().names


def keep_out_of_git(results_dir: Path) -> None:
    """The learners' results never get committed by a `git add .` in the kit, wherever they are
    written (as pytest does for its cache folder)."""
    ignore = results_dir / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# written by `embedlab grade`: learners' results stay out of git\n*\n", encoding="utf-8")


def write_gradebook(path: Path, graded: list[Graded], results: dict[str, str] | None = None) -> None:
    """grades.csv: a row per submission; `results_file` names its results.json in the results
    folder (a name made safe for any file system, so the row says whose file it is)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    results = results or results_names([g.name for g in graded])
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        names = exercise_names()
        writer.writerow(["submission", "status", "score", "max_score", *names, "flags", "reason", "results_file"])
        possible = max((g.max_score for g in graded), default=0)
        for one in graded:
            writer.writerow(
                [
                    cell(one.name),
                    one.status,
                    f"{one.score:g}",
                    f"{(one.max_score or possible):g}",
                    *(f"{one.exercises.get(name, 0):g}" for name in names),
                    cell("; ".join(one.flags)),
                    cell(one.reason),
                    cell(results.get(one.name, "")),
                ]
            )


def cell(text: str) -> str:
    """A CSV cell a spreadsheet shows as text: never a formula (= + - @, tab, carriage return)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def results_names(names: list[str]) -> dict[str, str]:
    """One results file per submission: `<name>.json`, made safe and never shared by two names."""
    chosen: dict[str, str] = {}
    taken: set[str] = set()
    for name in names:
        safe = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip(".") or "submission"
        if safe != name or safe.lower() in taken:
            safe = f"{safe[:60]}-{hashlib.sha256(name.encode('utf-8', 'surrogatepass')).hexdigest()[:8]}"
        taken.add(safe.lower())
        chosen[name] = f"{safe}.json"
    return chosen


def results_json(one: Graded, every_test: dict | None = None) -> dict:
    """The submission's Gradescope results.json. One that timed out, crashed or sent nothing still
    lists every test (`grading_process.every_test()`), each at 0 of its max_score with the reason in its output; the
    checks that were skipped anyway (live checks, not scored) stay skipped."""
    from embedlab.grading.report import Scorecard

    if one.results is not None:
        data = dict(one.results)
    else:
        why = {
            "timeout": f"Not graded: the submission took too long ({one.reason}).",
            "crashed": f"Not graded: the grading of this submission crashed ({one.reason}).",
            "error": f"Not graded: {one.reason}.",
            "empty": f"Not graded: no exercise files were found ({', '.join(exercise_files())}).",
        }.get(one.status, f"Not graded: {one.status} ({one.reason}).")
        book = Scorecard.from_gradescope(every_test or {})
        for result in book.results:
            if not (result.status == "skipped" and not book.scored(result)):
                result.status, result.message = "failed", why
        kept = {k: v for k, v in (every_test or {}).get("extra_data", {}).items() if k in ("kit_version", "cassettes")}
        data = book.gradescope(kept)
        data["output"] = why + "\n\n" + data["output"]
    data.setdefault("extra_data", {})
    data["extra_data"] = {**data["extra_data"], "submission": one.name, "status": one.status, "flags": one.flags, "reason": one.reason}
    return data


def summary(graded: list[Graded], out: Path, results_dir: Path, report: Path | None = None) -> str:
    counts: dict[str, int] = {}
    for one in graded:
        counts[one.status] = counts.get(one.status, 0) + 1
    scored = [g for g in graded if g.status == "graded"]
    mean = sum(g.score for g in scored) / len(scored) if scored else 0.0
    possible = max((g.max_score for g in graded), default=0)
    lines = [
        f"{len(graded)} submission{'' if len(graded) == 1 else 's'}: " + ", ".join(f"{n} {status}" for status, n in sorted(counts.items())),
        f"mean score of the graded ones: {mean:.1f}/{possible:g}",
    ]
    flagged = [g for g in graded if g.flags]
    if flagged:
        lines.append("flagged: " + "; ".join(f"{g.name} ({', '.join(g.flags)})" for g in flagged))
    lines.append(f"gradebook: {out}   results: {results_dir}/" + (f"   report: {report}" if report is not None else ""))
    return "\n".join(lines)


class Progress:
    """A progress bar on stderr (a line per submission when stderr is not a terminal)."""

    def __init__(self, total: int) -> None:
        self.total, self.done = total, 0
        self.tty = sys.stderr.isatty()

    def step(self, one: Graded) -> None:
        self.done += 1
        if self.tty:
            filled = round(30 * self.done / self.total)
            sys.stderr.write(f"\r[{'#' * filled}{'-' * (30 - filled)}] {self.done}/{self.total} {one.name[:30]:<30}")
            if self.done == self.total:
                sys.stderr.write("\n")
        else:
            sys.stderr.write(f"[{self.done}/{self.total}] {one.name}: {one.status} {one.score:g}\n")
        sys.stderr.flush()

"""The class report page: `grades-report.html` beside the gradebook of every `embedlab grade`.

What the CSV cannot show at a glance after a lab: the class's score distribution; per exercise,
in the course's order and parts, how many learners are done, failing, waiting (its file imports
one that does not import), not started or stopped (a time-out or a crash); the most common
mistakes — grouped by the mistake (a file that does not import, a time-out, a crash, an exception,
a wrong value), one entry each, most learners first, each with the sentence the learners saw and who, each name linking to that learner's results file; and the submissions
that were flagged or not graded.

It is read from what grading wrote — each submission's results.json (Gradescope's shape, see
`embedlab.grading.report.Scorecard.gradescope`: `tests[].extra_data` has exercise, title,
embedlab_status and message; the top-level `extra_data` has status, flags, reason) — so
`embedlab grade` and `embedlab grade --merge` write the same page for the same class. One
self-contained file (`embedlab.pictures`): inline SVG and CSS, no script, every text from a
submission escaped. Sized for 1 to 1,000 submissions: long lists of names are cut with a count.
"""

from __future__ import annotations

import csv
import json
import math
import os
import statistics
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from embedlab import course, pictures

STATES = ("done", "failing", "waiting", "not started", "stopped")
STOPPED_STATUSES = ("timeout", "crashed", "error")
STOPPED_MESSAGES = ("Stopped after", "ended the whole process")
NAMES_SHOWN = 40  # learners named per mistake; the rest are counted
ROWS_SHOWN = 200  # rows of the flagged / not graded tables
BINS = 10
MISTAKES_OPEN = 8  # mistakes shown open; the others are folded
SIMILARITY_CSV = "similarity.csv"  # written beside the gradebook by `embedlab.instructor.similarity`
SIMILARITY_PAGE = "similarity.html"
CSV_FORMULA = ("=", "+", "-", "@", "\t", "\r")  # what the CSVs prefix with a quote


@dataclass
class Similar:
    """A submission's most similar pair, as similarity.csv has it."""

    score: float
    other: str
    file: str
    marked: bool


@dataclass
class Entry:
    """One submission as its results file tells it."""

    name: str
    href: str
    status: str
    score: float
    max_score: float
    flags: list[str] = field(default_factory=list)
    reason: str = ""
    tests: list[dict] = field(default_factory=list)
    exercises: dict[str, dict] = field(default_factory=dict)

    def state(self, exercise: str) -> str:
        if self.status in STOPPED_STATUSES:
            return "stopped"
        mine = [t.get("extra_data", {}) for t in self.tests if t.get("extra_data", {}).get("exercise") == exercise]
        if any(str(t.get("message", "")).startswith(STOPPED_MESSAGES) or STOPPED_MESSAGES[1] in str(t.get("message", "")) for t in mine):
            return "stopped"
        status = self.exercises.get(exercise, {}).get("status") if self.status == "graded" else None
        return status if status in ("done", "failing", "waiting") else "not started"


def report_path(out: Path) -> Path:
    """Where the page goes: beside the gradebook, `grades.csv` -> `grades-report.html`."""
    return out.with_name(out.stem + "-report.html")


def write_report(out: Path, results_dir: Path, files: dict[str, str]) -> Path:
    """Write the class report for the gradebook `out`, from `results_dir`'s files (submission name ->
    file name there); returns its path. A results file that cannot be read is counted as such."""
    page = report_path(out)
    entries, unreadable = [], []
    base = page.parent.resolve()
    for name, file in sorted(files.items()):
        path = results_dir / file
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            unreadable.append(name)
            continue
        href = quote(Path(os.path.relpath(path.resolve(), base)).as_posix())
        try:
            entries.append(entry(name, href, data))
        except (AttributeError, TypeError, ValueError):  # not the shape grading writes
            unreadable.append(name)
    similar = read_similarity(page.parent / SIMILARITY_CSV, set(files))
    return pictures.write(page, render(entries, unreadable, similar))


def read_similarity(path: Path, names: set[str]) -> dict[str, Similar] | None:
    """Each submission's highest similarity, from the similarity report's CSV beside the gradebook
    (its rows are most similar first); None when there is none or it cannot be read."""

    def name(value: str) -> str:
        plain = value[1:] if value.startswith("'") and value[1:2] in CSV_FORMULA else value
        return value if value in names else plain

    found: dict[str, Similar] = {}
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                if not row.get("other") or not row.get("score"):
                    continue  # a file not compared
                a, b = name(row["submission"]), name(row["other"])
                for one, other in ((a, b), (b, a)):
                    if one in names and one not in found:
                        found[one] = Similar(float(row["score"]), other, row["file"].lstrip("'"), row.get("marked") == "yes")
    except (OSError, ValueError, KeyError, csv.Error):
        return None
    return found


def entry(name: str, href: str, data: dict) -> Entry:
    extra = data.get("extra_data") if isinstance(data.get("extra_data"), dict) else {}
    tests = [t for t in data.get("tests", []) if isinstance(t, dict) and isinstance(t.get("extra_data"), dict)]
    exercises = extra.get("exercises") if isinstance(extra.get("exercises"), dict) else {}
    exercises = {
        str(k): {"status": str(v.get("status", "")), "score": _number(v.get("score")), "max_score": _number(v.get("max_score"))}
        for k, v in exercises.items()
        if isinstance(v, dict)
    }
    return Entry(
        name=name,
        href=href,
        status=str(extra.get("status", "graded")),
        score=_number(data.get("score")),
        max_score=_number(data.get("max_score")),
        flags=[str(f) for f in extra.get("flags", []) if f] if isinstance(extra.get("flags"), list) else [],
        reason=str(extra.get("reason", "")),
        tests=tests,
        exercises=exercises,
    )


def _number(value: object) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0


# -- the page ------------------------------------------------------------------------------------


def render(entries: list[Entry], unreadable: list[str] | None = None, similar: dict[str, Similar] | None = None) -> str:
    catalogue = course.load()
    text = pictures.text
    graded = [e for e in entries if e.status == "graded"]
    possible = max((e.max_score for e in entries), default=0.0)
    statuses = Counter(e.status for e in entries)
    scores = [e.score for e in graded]
    body = [f"<h1>{text(catalogue.title)} — class report</h1>"]
    said = ", ".join(f"{n} {text(s)}" for s, n in sorted(statuses.items()))
    body.append(
        f'<p class="note" id="summary" data-submissions="{len(entries)}" data-graded="{len(graded)}">'
        f'<b>{len(entries)}</b> submission{"" if len(entries) == 1 else "s"} ({said})'
        + (f"; mean score of the graded ones <b id=\"mean\">{statistics.fmean(scores):.1f}</b>, "
           f"median <b id=\"median\">{statistics.median(scores):g}</b> of {possible:g} points" if scores else "")
        + (f"; {len(unreadable)} results file(s) could not be read" if unreadable else "")
        + ".</p>"
    )  # fmt: skip
    body.append("<h2>Scores</h2>")
    body.append(_distribution(scores, possible))
    body.append("<h2>Exercises</h2>")
    body.append(_exercises(catalogue, entries, graded))
    body.append("<h2>The most common mistakes</h2>")
    body.append(_mistakes(catalogue, graded))
    body.append("<h2>Flagged and not graded</h2>")
    body.append(_flagged(entries))
    body.append("<h2>Code similarity</h2>")
    body.append(_similarity(entries, similar))
    body.append(
        '<p class="note small">Written by <code>embedlab grade</code> from each submission\'s results file. '
        "Each name links to that learner's results.json.</p>"
    )
    return pictures.page(f"{catalogue.title} — class report", "\n".join(body))


def bins(possible: float, count: int = BINS) -> list[tuple[float, float]]:
    """The score ranges of the distribution: at most `count`, each a whole number of points wide
    (from `low` up to, not including, `high`), the last one including full marks."""
    if possible <= 0:
        return [(0.0, 0.0)]
    step = max(1, math.ceil(possible / count))
    edges = list(range(0, math.ceil(possible), step))
    return [(float(low), float(min(low + step, possible))) for low in edges]


def bin_of(score: float, ranges: list[tuple[float, float]]) -> int:
    for i, (low, high) in enumerate(ranges):
        if score < high:
            return i
    return len(ranges) - 1


def _distribution(scores: list[float], possible: float) -> str:
    ranges = bins(possible)
    counts = [0] * len(ranges)
    for score in scores:
        counts[bin_of(score, ranges)] += 1
    whole = all(float(s).is_integer() for s in scores)
    labels = []
    for i, (low, high) in enumerate(ranges):
        last = i == len(ranges) - 1
        top = high if last else (high - 1 if whole else high)
        labels.append(f"{low:g}" if top == low else f"{low:g}–{top:g}" if whole or last else f"{low:g}–<{top:g}")
    full = sum(1 for s in scores if possible and s >= possible)
    chart = pictures.bars(list(zip(labels, counts)), label="points (graded submissions)")
    return f'<div id="distribution">{chart}</div><p class="note">{full} of {len(scores)} graded submissions have full marks.</p>'


def _exercises(catalogue: course.Course, entries: list[Entry], graded: list[Entry]) -> str:
    rows = [
        '<table id="exercises"><tr><th>exercise</th><th>file</th>'
        + "".join(f'<th class="num">{s}</th>' for s in STATES)
        + '<th>of the class</th><th class="num">mean points (graded)</th></tr>'
    ]
    total = max(1, len(entries))
    parts = catalogue.parts()
    for part in parts:
        if len(parts) > 1:  # each part with its mean subtotal
            mine = [e.name for e in catalogue.exercises if e.part == part]
            totals = [sum(g.exercises.get(n, {}).get("score", 0) for n in mine) for g in graded]
            most = max((sum(g.exercises.get(n, {}).get("max_score", 0) for n in mine) for g in graded), default=0.0)
            mean = f"{statistics.fmean(totals):.2f} / {most:g}" if totals else ""
            rows.append(
                f'<tr class="part"><th colspan="{3 + len(STATES)}">{pictures.text(catalogue.part_title(part))}</th>'
                f'<th class="num" data-part="{pictures.text(part)}">{mean}</th></tr>'
            )
        for exercise in (e for e in catalogue.exercises if e.part == part):
            counts = Counter(e.state(exercise.name) for e in entries)
            points = [float(e.exercises.get(exercise.name, {}).get("score", 0)) for e in graded]
            most = max((float(e.exercises.get(exercise.name, {}).get("max_score", 0)) for e in graded), default=0.0)
            stack = "".join(
                f'<span class="{s.replace(" ", "")}" style="flex:none;height:12px;width:{200 * counts[s] / total:.2f}px" title="{s}: {counts[s]}"></span>'
                for s in STATES
                if counts[s]
            )
            mean = f"{statistics.fmean(points):.2f}" if points else "–"
            rows.append(
                f'<tr data-exercise="{pictures.text(exercise.name)}"><td>{pictures.text(exercise.name)}</td>'
                f"<td><code>exercises/{pictures.text(exercise.file)}</code></td>"
                + "".join(f'<td class="num" data-state="{s}">{counts[s]}</td>' for s in STATES)
                + f'<td class="bar"><span class="stack" style="display:inline-flex;flex-wrap:nowrap;overflow:hidden;width:200px;height:12px;background:#f4f5f8">{stack}</span></td>'
                f'<td class="num" data-mean="{mean}">{mean} / {most:g}</td></tr>'
            )
    rows.append("</table>")
    legend = " ".join(f'<span class="pill {s.replace(" ", "")}">{s}</span>' for s in STATES)
    return (
        "\n".join(rows)
        + f"<p class=\"note\">{legend} — waiting: its file imports one of the learner's files that does not import, so none of its own code ran; stopped: the submission or the exercise's code timed out or crashed.</p>"
    )


@dataclass
class Mistake:
    exercise: str  # the exercise, or the learner's file that does not import
    title: str  # what went wrong, in a few words: the check's title, "timed out", "raised TypeError", …
    kind: str = "wrong value"  # wrong value | raised | timeout | crash | syntax error (does not import)
    names: list[tuple[str, str]] = field(default_factory=list)  # (name, href)
    messages: Counter = field(default_factory=Counter)


def mistake_of(extra: dict) -> tuple[str, str, str, str]:
    """(exercise or file, title, kind, sentence pattern) of one failed check: the mistake it shows.
    A file that does not import, a time-out and a crash are each one mistake, whatever checks
    they stopped; an exception is its type and words; a wrong value is its check and the shape
    of its sentence (numbers and quoted values aside)."""
    message = str(extra.get("message", "")).strip()
    exercise = str(extra.get("exercise", ""))
    broken = str(extra.get("broken", ""))
    if broken:
        first = message.partition("which does not import: ")[2] or message
        kind = "syntax error" if "SyntaxError" in first or "IndentationError" in first else "does not import"
        return broken, f"{broken} does not import", kind, _pattern(first.splitlines()[0] if first else "")
    if message.startswith(STOPPED_MESSAGES[0]):
        return exercise, "timed out", "timeout", ""
    if STOPPED_MESSAGES[1] in message:
        return exercise, "crashed the worker", "crash", ""
    raised = str(extra.get("raised", ""))
    if raised:
        words = message.partition(f" raised {raised}")[2].splitlines()[0] if f" raised {raised}" in message else ""
        return exercise, f"raised {raised}", "raised", _pattern(words)
    return exercise, str(extra.get("title", "")), "wrong value", _pattern(message.splitlines()[0] if message else "")


def _pattern(sentence: str) -> str:
    """The sentence with its numbers and quoted values taken out: the same mistake on other data."""
    import re

    sentence = re.sub(r"'[^']*'|\"[^\"]*\"", "'…'", sentence)
    sentence = re.sub(r"\[[^\]]*\]|\([^)]*\)", "(…)", sentence)
    return re.sub(r"-?\d[\d.,e+-]*", "#", sentence)


def mistakes(catalogue: course.Course, graded: list[Entry]) -> list[Mistake]:
    """The graded submissions' mistakes, most learners first: one entry per mistake (a file that
    does not import, a time-out, a crash, an exception, a wrong value), each learner once in it."""
    found: dict[tuple[str, str, str, str], Mistake] = {}
    for one in graded:
        seen = set()
        for test in one.tests:
            extra = test["extra_data"]
            if extra.get("embedlab_status") != "failed" or extra.get("live"):
                continue
            key = mistake_of(extra)
            mistake = found.setdefault(key, Mistake(key[0], key[1], key[2]))
            if key not in seen:
                seen.add(key)
                mistake.names.append((one.name, one.href))
            mistake.messages[str(extra.get("message", "")).strip()] += 1
    return sorted(found.values(), key=lambda m: (-len(m.names), catalogue.index(m.exercise), m.kind, m.title))


def _mistakes(catalogue: course.Course, graded: list[Entry]) -> str:
    found = mistakes(catalogue, graded)
    if not found:
        return '<p class="note">No graded submission fails a check.</p>'
    text = pictures.text
    items = []
    for mistake in found:
        said = mistake.messages.most_common(1)[0][0]
        who = "".join(f'<a href="{text(href)}">{text(name)}</a>' for name, href in mistake.names[:NAMES_SHOWN])
        more = len(mistake.names) - NAMES_SHOWN
        who += f'<span class="note">and {more} more</span>' if more > 0 else ""
        variants = len(mistake.messages)
        heading = mistake.title if mistake.kind in ("syntax error", "does not import") else f"{mistake.exercise}: {mistake.title}"
        items.append(
            f'<li data-exercise="{text(mistake.exercise)}" data-kind="{text(mistake.kind)}" data-count="{len(mistake.names)}">'
            f"<b>{text(heading)}</b> — "
            f'<span class="count">{len(mistake.names)}</span> learner{"" if len(mistake.names) == 1 else "s"}'
            f"<blockquote>{text(pictures.shorten(said))}</blockquote>"
            + (f'<div class="note small">one of {variants} different sentences for this mistake</div>' if variants > 1 else "")
            + f'<div class="who">{who}</div></li>'
        )
    shown = '<ol class="mistakes" id="mistakes">' + "\n".join(items[:MISTAKES_OPEN]) + "</ol>"
    if len(items) > MISTAKES_OPEN:  # the rest folded (a <details>, which needs no script)
        shown += (
            f"<details><summary>{len(items) - MISTAKES_OPEN} more mistakes</summary>"
            f'<ol class="mistakes" start="{MISTAKES_OPEN + 1}">' + "\n".join(items[MISTAKES_OPEN:]) + "</ol></details>"
        )
    return shown


def _flagged(entries: list[Entry]) -> str:
    text = pictures.text
    flagged = [e for e in entries if e.flags]
    stopped = [e for e in entries if e.status != "graded"]
    out = []
    for rows, heading, cells, table_id in (
        (flagged, "<th>submission</th><th>flags</th>", lambda e: text(pictures.shorten("; ".join(e.flags), 400)), "flagged"),
        (stopped, "<th>submission</th><th>status</th><th>why</th>", lambda e: f"{text(e.status)}</td><td>{text(pictures.shorten(e.reason, 300))}", "notgraded"),
    ):
        if not rows:
            out.append(f'<p class="note" id="{table_id}" data-count="0">No submission {"flagged" if table_id == "flagged" else "left ungraded"}.</p>')
            continue
        body = "".join(f'<tr><td><a href="{text(e.href)}">{text(e.name)}</a></td><td>{cells(e)}</td></tr>' for e in rows[:ROWS_SHOWN])
        more = f'<p class="note">and {len(rows) - ROWS_SHOWN} more: see the gradebook.</p>' if len(rows) > ROWS_SHOWN else ""
        title = f"Flagged ({len(rows)})" if table_id == "flagged" else f"Not graded ({len(rows)})"
        out.append(f'<h3>{title}</h3><table id="{table_id}" data-count="{len(rows)}"><tr>{heading}</tr>{body}</table>{more}')
    return "\n".join(out)


def _similarity(entries: list[Entry], similar: dict[str, Similar] | None) -> str:
    """Each submission's highest similarity, highest first, linking to the similarity report."""
    text = pictures.text
    if similar is None:
        return f'<p class="note" id="similarity" data-count="0">No similarity report ({SIMILARITY_PAGE}) beside this gradebook.</p>'
    order = sorted(entries, key=lambda e: (-(similar[e.name].score if e.name in similar else -1.0), e.name))
    marked = sum(1 for e in entries if e.name in similar and similar[e.name].marked)
    rows = []
    for e in order[:ROWS_SHOWN]:
        best = similar.get(e.name)
        shown = (
            f'<td class="num">{best.score:.3f}</td><td>{text(best.other)}</td><td><code>{text(best.file)}</code></td><td>{"yes" if best.marked else "no"}</td>'
            if best
            else '<td class="num">–</td><td></td><td></td><td></td>'
        )
        rows.append(
            f'<tr data-submission="{text(e.name)}" data-highest="{f"{best.score:.3f}" if best else ""}" data-marked="{"yes" if best and best.marked else "no"}">'
            f'<td><a href="{text(e.href)}">{text(e.name)}</a></td><td class="num">{e.score:g}</td>{shown}</tr>'
        )
    more = f'<p class="note">and {len(order) - ROWS_SHOWN} more: see {SIMILARITY_CSV}.</p>' if len(order) > ROWS_SHOWN else ""
    return (
        f'<p class="note"><a id="similarity-link" href="{SIMILARITY_PAGE}">The similarity report</a>: for each exercise file, the pairs '
        f"of submissions that share the most code beyond what everyone was given, side by side; {marked} submission"
        f"{'' if marked == 1 else 's'} in a marked pair. Similarity is evidence to look at, never a verdict.</p>"
        f'<table id="similarity" data-count="{len(entries)}"><tr><th>submission</th><th class="num">points</th>'
        f'<th class="num">highest similarity</th><th>with</th><th>file</th><th>marked</th></tr>{"".join(rows)}</table>{more}'
    )

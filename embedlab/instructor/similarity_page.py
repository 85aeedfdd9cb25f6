"""The similarity report as a reader meets it: its data (pairs, files, refusals), the page and the CSV.

`embedlab.instructor.similarity` reads the class and scores its pairs into a `Report`; this module
holds that report's types and writes `similarity.html` (every name and line of code escaped, no
script, nothing fetched: `embedlab.pictures`) and `similarity.csv` (cells never formulas). Its
numbers (K, MADS, FLOOR, …) live here too, where the page says how pairs are marked.
"""

from __future__ import annotations

import csv
import html
import re
from dataclasses import dataclass, field
from pathlib import Path

from embedlab import pictures
from embedlab.instructor import submissions
from embedlab.instructor.gradebook import cell

HTML_NAME = "similarity.html"
CSV_NAME = "similarity.csv"
K = 25  # copydetect's noise threshold: k-grams of 25 normalised characters (its default)
WINDOW = 1  # winnowing window: 1 keeps every k-gram (copydetect's default), so scores do not depend on the hash salt
MADS = 4.0  # a pair is marked above the file's median score + MADS x its median absolute deviation
FLOOR = 0.3  # ... and only if it shares at least this share of the smaller file's fingerprints
MIN_FINGERPRINTS = 10  # the score's smallest denominator: a file this small has too little of its own
SHOWN = 20  # pairs shown side by side per file, besides every marked one
MARKED_SHOWN = 100  # marked pairs shown per file at most (the CSV has them all)
CONTEXT = 2  # lines shown around each highlighted passage
LINES_SHOWN = 120  # lines shown per side of a pair at most
FILE_CAP = submissions.FILE_CAP  # 1 MiB: a larger file is refused, not read
RECIPE_LENGTH = (K + 1) // 2  # a hint recipe this long (normalised) can be half a k-gram: those go with it
CHUNK = 8192  # fingerprint columns multiplied at once (bounds the memory of a big class)
# Hint phrases that look like code: a call, with what is chained to it (np.argpartition(-s, k - 1)[:k]).
CODE_PHRASE = re.compile(r"[A-Za-z_][\w.]*\((?:[^()]|\([^()]*\))*\)(?:\[[^\]\s]*\]|\.[A-Za-z_]\w*(?:\((?:[^()]|\([^()]*\))*\))?)*")
# Characters that reorder how a line shows (Trojan Source): drawn as visible marks, never obeyed.
BIDI = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")


@dataclass(frozen=True)
class Refusal:
    """A file that was not compared, and why (the end of one sentence)."""

    submission: str
    file: str
    reason: str

    @property
    def sentence(self) -> str:
        return f"{self.file} of {self.submission} was not compared: {self.reason}."


@dataclass
class Pair:
    file: str
    a: str
    b: str
    shared: int  # fingerprints both files have
    score: float  # shared / the smaller file's fingerprints (at least MIN_FINGERPRINTS)
    marked: bool = False
    overlap: tuple[float, float] | None = None  # copydetect's compare_files: share of each file's tokens
    sides: tuple[str, str] | None = None  # the highlighted passages, as HTML


@dataclass
class FileResult:
    file: str
    compared: list[str]
    pairs: list[Pair]  # the pairs sharing any fingerprint, most similar first
    count: int  # all pairs, sharing or not
    median: float = 0.0
    mad: float = 0.0
    threshold: float = FLOOR

    @property
    def marked(self) -> list[Pair]:
        return [p for p in self.pairs if p.marked]

    def shown(self) -> list[Pair]:
        marked = self.marked[:MARKED_SHOWN]
        return marked + [p for p in self.pairs[:SHOWN] if not p.marked]


@dataclass
class Report:
    title: str
    submissions: list[str]
    files: list[FileResult]
    refused: list[Refusal] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)  # by phase: read, fingerprint, score, passages

    def pairs(self) -> list[Pair]:
        """Every file's pairs, most similar first."""
        every = [p for f in self.files for p in f.pairs]
        return sorted(every, key=lambda p: (-p.score, -p.shared, p.file, p.a, p.b))

    def highest(self) -> dict[str, Pair]:
        """Each submission's most similar pair, over all files."""
        best: dict[str, Pair] = {}
        for pair in self.pairs():
            for name in (pair.a, pair.b):
                best.setdefault(name, pair)
        return best

    def summary(self, seconds: float) -> str:
        marked = sum(len(f.marked) for f in self.files)
        compared = sum(len(f.compared) for f in self.files)
        return (
            f"similarity: {len(self.submissions)} submissions, {compared} files compared in {seconds:.1f} s, "
            f"{marked} pair{'' if marked == 1 else 's'} marked to look at"
            + (f", {len(self.refused)} file{'' if len(self.refused) == 1 else 's'} refused" if self.refused else "")
        )


def highlighted(code: str, slices) -> str:
    """`code` as escaped HTML lines: the copied slices (character starts and ends) in <mark>, only
    the lines near them, the others folded into a count."""
    spans: list[list[int]] = []
    if len(slices) == 2 and len(slices[0]):
        for start, end in sorted(zip((int(s) for s in slices[0]), (int(e) for e in slices[1]))):
            start, end = max(0, start), min(len(code), end)
            if end <= start:
                continue
            if spans and start <= spans[-1][1]:
                spans[-1][1] = max(spans[-1][1], end)
            else:
                spans.append([start, end])
    lines = code.splitlines(keepends=True) or [""]
    starts, at = [], 0
    for line in lines:
        starts.append(at)
        at += len(line)
    touched = set()
    for start, end in spans:
        first = _line_of(starts, start)
        last = _line_of(starts, max(start, end - 1))
        touched.update(range(first, last + 1))
    keep = sorted({n for t in touched for n in range(t - CONTEXT, t + CONTEXT + 1) if 0 <= n < len(lines)})
    out, previous, shown = [], -1, 0
    for number in keep:
        if shown >= LINES_SHOWN:
            out.append(f'<span class="gap">… {len(lines) - number} more lines</span>')
            break
        if number > previous + 1:
            out.append(f'<span class="gap">⋯ {number - previous - 1} lines ⋯</span>')
        out.append(f'<span class="ln">{number + 1}</span>' + _marked_line(lines[number].rstrip("\r\n"), starts[number], spans))
        previous, shown = number, shown + 1
    if not keep:
        out.append('<span class="gap">no passage in common at full resolution</span>')
    elif previous < len(lines) - 1 and shown < LINES_SHOWN:
        out.append(f'<span class="gap">⋯ {len(lines) - 1 - previous} lines ⋯</span>')
    return "\n".join(out)


def _line_of(starts: list[int], offset: int) -> int:
    import bisect

    return max(0, bisect.bisect_right(starts, offset) - 1)


def _marked_line(line: str, offset: int, spans: list[list[int]]) -> str:
    pieces, at = [], 0
    for start, end in spans:
        start, end = start - offset, end - offset
        if end <= 0 or start >= len(line):
            continue
        start, end = max(start, 0), min(end, len(line))
        if start > at:
            pieces.append(_code_text(line[at:start]))
        pieces.append(f"<mark>{_code_text(line[start:end])}</mark>")
        at = end
    pieces.append(_code_text(line[at:]))
    return "".join(pieces)


def _code_text(value: str) -> str:
    escaped = html.escape(value, quote=True)
    return BIDI.sub(lambda m: f'<span class="ctl">U+{ord(m.group()):04X}</span>', escaped)


# -- what is written -------------------------------------------------------------------------------


def write(folder: Path, report: Report) -> Path:
    """similarity.csv and similarity.html in `folder`; returns the page's path."""
    folder.mkdir(parents=True, exist_ok=True)
    write_csv(folder / CSV_NAME, report)
    return pictures.write(folder / HTML_NAME, render(report))


def write_csv(path: Path, report: Report) -> None:
    """A row per pair sharing any fingerprint, most similar first, then a row per refused file."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "submission", "other", "score", "shared_fingerprints", "marked", "note"])
        for pair in report.pairs():
            writer.writerow([cell(pair.file), cell(pair.a), cell(pair.b), f"{pair.score:.3f}", pair.shared, "yes" if pair.marked else "no", ""])
        for refusal in report.refused:
            writer.writerow([cell(refusal.file), cell(refusal.submission), "", "", "", "", cell(f"not compared: {refusal.reason}")])


STYLE = """
.pairs td.a,.pairs td.b{max-width:280px;overflow-wrap:anywhere}tr.marked td{background:#fdf0cf}
.sides{display:flex;gap:10px}.sides>div{flex:1 1 0;min-width:0}
pre.code{margin:0;padding:6px 8px;background:#f7f8fa;border:1px solid #dde2ea;font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,monospace;overflow:auto;max-height:520px;white-space:pre}
pre.code mark{background:#ffe08a}pre.code .ln{display:inline-block;width:3.2em;color:#9aa3b5;user-select:none}
pre.code .gap{color:#9aa3b5;font-style:italic}pre.code .ctl{color:#b3261e;border:1px solid #b3261e;font-size:10px}
.verdict{border-left:3px solid #5b7bd5;background:#eef1f6;padding:6px 10px}
"""


def render(report: Report) -> str:
    text = pictures.text
    marked = sum(len(f.marked) for f in report.files)
    body = [f"<h1>{text(report.title)} — code similarity</h1>"]
    body.append(
        f'<p class="note" id="summary" data-submissions="{len(report.submissions)}" data-marked="{marked}" data-refused="{len(report.refused)}">'
        f"<b>{len(report.submissions)}</b> submissions; <b>{marked}</b> pair{'' if marked == 1 else 's'} marked to look at; "
        f"{len(report.refused)} file{'' if len(report.refused) == 1 else 's'} not compared.</p>"
    )
    body.append(
        '<p class="verdict" id="evidence"><b>Similarity is evidence to look at, never a verdict.</b> Learners who follow the same '
        "section and the same hints converge on the same idioms; a marked pair is one whose files share far more than the class's "
        "other pairs do. Read the passages side by side, and ask the learners, before you conclude anything.</p>"
    )
    body.append(_method())
    for result in report.files:
        body.append(_file_section(result))
    body.append("<h2>Not compared</h2>")
    body.append(_refused(report.refused))
    body.append(
        '<p class="note small">Written by <code>embedlab similarity</code> (and <code>embedlab grade</code>) with copydetect\'s fingerprints. '
        f"Every pair that shares a fingerprint is in {CSV_NAME}, most similar first.</p>"
    )
    return pictures.page(f"{report.title} — code similarity", "\n".join(body), style=STYLE)


def _method() -> str:
    return (
        '<details id="method"><summary>How pairs are scored and marked</summary><ul class="note">'
        "<li>Each exercise file is tokenised and normalised (copydetect): every variable, attribute, function and class name, "
        "every string literal's text, comments and whitespace are made alike, so renaming, re-commenting, re-spacing or "
        "reordering functions does not hide a copy.</li>"
        f"<li>Fingerprints: winnowing (Schleimer, Wilkerson and Aiken, 2003) of the {K}-character k-grams of the normalised code, "
        f"a window of {WINDOW} (every common run of {K + WINDOW - 1} characters or more is seen). What every learner was given "
        "is removed first: the kit's stubs, the hints in course.toml and the section's own code, and every k-gram at least half "
        "of which is one of the hints' recipes (such as np.partition(scores, n - k)[n - k]).</li>"
        "<li>A pair's score is the number of fingerprints both files have, divided by the fingerprints of the smaller file "
        f"(at least {MIN_FINGERPRINTS}): 1.00 means the smaller file is wholly in the other.</li>"
        f"<li>A pair is <b>marked</b> when its score is above the median of all that file's pairs plus {MADS:g} times their "
        f"median absolute deviation (MAD), and at least {FLOOR:.2f}. The class is its own yardstick: what everyone writes alike "
        "raises the median, and a pair must stand out from it.</li>"
        f"<li>Shown: each file's {SHOWN} most similar pairs and every marked one (at most {MARKED_SHOWN}), with the passages "
        "they share highlighted; copydetect's overlap says what share of each file's tokens those passages cover.</li></ul></details>"
    )


def _file_section(result: FileResult) -> str:
    text = pictures.text
    out = [
        f'<h2 id="file-{text(result.file)}">exercises/{text(result.file)}</h2>',
        f'<p class="note" data-file="{text(result.file)}" data-compared="{len(result.compared)}" data-pairs="{result.count}" '
        f'data-median="{result.median:.3f}" data-mad="{result.mad:.3f}" data-threshold="{result.threshold:.3f}">'
        f"{len(result.compared)} files compared, {result.count} pairs: median score {result.median:.3f}, MAD {result.mad:.3f}; "
        f"marked above {result.median + MADS * result.mad:.3f} and at least {FLOOR:.2f}: <b>{len(result.marked)}</b> marked.</p>",
    ]
    shown = result.shown()
    if not shown:
        out.append('<p class="note">No two files share a fingerprint beyond what everyone was given.</p>')
        return "\n".join(out)
    rows = [
        f'<table class="pairs" data-file="{text(result.file)}"><tr><th class="num">#</th><th>submission</th><th>other</th>'
        '<th class="num">score</th><th class="num">shared</th><th>marked</th></tr>'
    ]
    details = []
    for rank, pair in enumerate(shown, 1):
        anchor = f"{text(result.file)}-{rank}"
        rows.append(
            f'<tr class="pair{" marked" if pair.marked else ""}" data-file="{text(pair.file)}" data-a="{text(pair.a)}" data-b="{text(pair.b)}" '
            f'data-score="{pair.score:.3f}" data-marked="{"yes" if pair.marked else "no"}"><td class="num"><a href="#{anchor}">{rank}</a></td>'
            f'<td class="a">{text(pair.a)}</td><td class="b">{text(pair.b)}</td><td class="num">{pair.score:.3f}</td>'
            f'<td class="num">{pair.shared}</td><td>{"yes" if pair.marked else "no"}</td></tr>'
        )
        left, right = pair.sides or ("", "")
        overlap = pair.overlap or (0.0, 0.0)
        details.append(
            f'<details class="passages" id="{anchor}"{" open" if pair.marked else ""}><summary>#{rank} {text(pair.a)} and {text(pair.b)} — '
            f"score {pair.score:.3f}{', marked' if pair.marked else ''}</summary>"
            f'<div class="sides"><div><div class="note small">{text(pair.a)}: {overlap[0]:.0%} of its tokens in shared passages</div>'
            f'<pre class="code">{left}</pre></div><div><div class="note small">{text(pair.b)}: {overlap[1]:.0%} of its tokens in shared passages</div>'
            f'<pre class="code">{right}</pre></div></div></details>'
        )
    rows.append("</table>")
    more = len(result.pairs) - len(shown)
    if more > 0:
        rows.append(f'<p class="note">and {more} more pairs sharing a fingerprint: see {CSV_NAME}.</p>')
    return "\n".join(out + rows + details)


def _refused(refused: list[Refusal]) -> str:
    text = pictures.text
    if not refused:
        return '<p class="note" id="refused" data-count="0">Every file handed in was compared.</p>'
    rows = "".join(f"<tr><td>{text(r.submission)}</td><td>{text(r.file)}</td><td>{text(r.sentence)}</td></tr>" for r in refused[:200])
    more = f'<p class="note">and {len(refused) - 200} more: see {CSV_NAME}.</p>' if len(refused) > 200 else ""
    return f'<table id="refused" data-count="{len(refused)}"><tr><th>submission</th><th>file</th><th>why</th></tr>{rows}</table>{more}'

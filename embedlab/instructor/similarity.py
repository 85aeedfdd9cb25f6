"""Code similarity in a class: `embedlab similarity CLASS_FOLDER [--out DIR]`, and beside every
gradebook that `embedlab grade` writes: `similarity.html` and `similarity.csv`.

For each of the course's exercise files (`course.toml`), every pair of submissions is scored by
the fingerprints their files share, and a pair is marked when it stands out from the class's own
pairs. Similarity is evidence for a person to look at, never a verdict: honest learners who follow
the same section converge on the same idioms.

The fingerprints are copydetect's (PyPI `copydetect`, MIT): winnowing (Schleimer, Wilkerson and
Aiken, SIGMOD 2003) over Pygments tokens normalised so that every variable, attribute, function
and class name, every comment, all whitespace and every string literal's text look alike — so
renaming, re-commenting, re-spacing and rewording strings hide nothing, and reordering functions
only changes the few k-grams at the seams. What every learner was given is subtracted first, as
copydetect's `boilerplate`: the kit's stubs (`exercises/`), the hints of `course.toml` (whole and
each code-like phrase alone), and the section's own code blocks (`section_code.py.txt`). The
reference solutions are not subtracted: a copy of them is worth looking at.

Scoring all pairs does not call `compare_files` for each of them (300 submissions make 44,850
pairs a file): each file is fingerprinted once, and a sparse file-by-fingerprint incidence matrix
multiplied by its transpose counts every pair's shared fingerprints at once. Only the pairs the
page shows (the first `SHOWN` of each file and every marked one) go through copydetect's
`compare_files` again, at full resolution, for the highlighted passages.

A file that is a symlink (never followed), not a regular file (a FIFO, a device), larger than
`FILE_CAP`, binary (NUL bytes) or not UTF-8 is refused in one sentence, listed on the page and in
the CSV as not compared, and the rest go on. Every name and every line of code is escaped; the
page has no script and fetches nothing (`embedlab.pictures`).
"""

from __future__ import annotations

import argparse
import csv
import html
import io
import os
import re
import stat
import sys
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from embedlab import course, pictures
from embedlab.instructor import classroom
from embedlab.instructor.gradebook import cell

if TYPE_CHECKING:
    import numpy as np

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
FILE_CAP = classroom.FILE_CAP  # 1 MiB: a larger file is refused, not read
RECIPE_LENGTH = (K + 1) // 2  # a hint recipe this long (normalised) can be half a k-gram: those go with it
CHUNK = 8192  # fingerprint columns multiplied at once (bounds the memory of a big class)
# Hint phrases that look like code: a call, with what is chained to it (np.argpartition(-s, k - 1)[:k]).
CODE_PHRASE = re.compile(r"[A-Za-z_][\w.]*\((?:[^()]|\([^()]*\))*\)(?:\[[^\]\s]*\]|\.[A-Za-z_]\w*(?:\((?:[^()]|\([^()]*\))*\))?)*")
# Characters that reorder how a line shows (Trojan Source): drawn as visible marks, never obeyed.
BIDI = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("submissions", type=Path, help="a folder with one sub-folder per submission")
    parser.add_argument("--out", type=Path, default=Path("."), help=f"the folder for {HTML_NAME} and {CSV_NAME} (default: here)")


def run(args: argparse.Namespace) -> int:
    from embedlab import kit

    root = kit.find_root()
    course.checked(root)
    if not args.submissions.is_dir():
        print(f"embedlab similarity: {args.submissions} is not a folder", file=sys.stderr)
        return 2
    if not classroom.submission_folders(args.submissions):
        print(f"embedlab similarity: no submissions in {args.submissions}", file=sys.stderr)
        return 2
    try:
        import copydetect  # noqa: F401
    except ImportError:
        print("embedlab similarity: copydetect is not installed (pip install -e '.[similarity]')", file=sys.stderr)
        return 2
    started = time.perf_counter()
    report = compare_class(args.submissions, root)
    page = write(args.out, report)
    print(report.summary(time.perf_counter() - started) + f"\npage: {page}   table: {page.with_name(CSV_NAME)}")
    return 0


def beside_gradebook(submissions: Path, out: Path, root: Path) -> str:
    """`embedlab grade`'s step: the report beside the gradebook `out`, and one line to print. It
    never raises: if it breaks, the line says so, the gradebook stands, and no stale report stays."""
    try:
        import copydetect  # noqa: F401
    except ImportError:
        _remove_stale(out.parent)
        return "similarity: not written, copydetect is not installed (pip install -e '.[similarity]'); the gradebook is complete"
    try:
        started = time.perf_counter()
        report = compare_class(submissions, root)
        page = write(out.parent, report)
        return report.summary(time.perf_counter() - started) + f": {page}"
    except Exception as err:  # noqa: BLE001 (whatever broke, the grades are kept)
        _remove_stale(out.parent)
        said = " ".join(str(err).split())[:200] or type(err).__name__
        return f"similarity: not written, it broke ({type(err).__name__}: {said}); the gradebook is complete"


def _remove_stale(folder: Path) -> None:
    for name in (HTML_NAME, CSV_NAME):
        try:
            (folder / name).unlink(missing_ok=True)
        except OSError:
            pass


# -- what the class handed in, read safely ---------------------------------------------------------


@dataclass(frozen=True)
class Refusal:
    """A file that was not compared, and why (the end of one sentence)."""

    submission: str
    file: str
    reason: str

    @property
    def sentence(self) -> str:
        return f"{self.file} of {self.submission} was not compared: {self.reason}."


def read_class(folder: Path, files: list[str]) -> tuple[list[str], dict[str, dict[str, str]], list[Refusal]]:
    """The submissions' names, their exercise files' text (file -> submission -> code), and the
    files refused. Where a submission keeps its files is found as grading finds it."""
    names, codes, refused = [], {f: {} for f in files}, []
    wanted = {Path(f).name for f in files}
    for entry in classroom.submission_folders(folder):
        names.append(entry.name)
        found = _listing(Path(entry.path), wanted)
        prefix = classroom.exercises_prefix(found)
        for file in files:
            path = found.get(prefix + file)
            if path is None:
                continue  # not handed in: nothing to compare
            text, reason = read_code(path)
            if text is None:
                refused.append(Refusal(entry.name, file, reason))
            else:
                codes[file][entry.name] = text
    return names, codes, refused


def _listing(folder: Path, wanted: set[str]) -> dict[str, Path]:
    """Every entry under `folder` named like an exercise file, whatever it is (relative path ->
    path), without following a symlink; bounded in entries and depth as grading's reading is."""
    found: dict[str, Path] = {}
    entries = 0
    pending = [(folder, "", 0)]
    while pending:
        directory, prefix, depth = pending.pop()
        try:
            listing = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError:
            continue
        for entry in listing:
            entries += 1
            if entries > classroom.ENTRY_CAP:
                return found
            relative = prefix + entry.name
            if entry.name in wanted:
                found[relative] = Path(entry.path)
            try:
                descend = entry.is_dir(follow_symlinks=False)
            except OSError:
                continue
            if descend and entry.name not in classroom.SKIPPED_DIRS and not entry.name.startswith(".") and depth < classroom.DEPTH_CAP:
                pending.append((Path(entry.path), relative + "/", depth + 1))
    return found


def read_code(path: Path) -> tuple[str, str] | tuple[None, str]:
    """A learner's file as text, or None and why not: never through a symlink (O_NOFOLLOW), only a
    regular file (checked on the open descriptor), at most FILE_CAP bytes, no NUL, UTF-8."""
    try:
        info = os.lstat(path)
    except OSError as err:
        return None, f"it could not be looked at ({err.strerror or err})"
    if stat.S_ISLNK(info.st_mode):
        return None, "it is a symlink, which is never followed"
    if not stat.S_ISREG(info.st_mode):
        return None, "it is not a regular file (a FIFO, a device, a socket or a folder)"
    if info.st_size > FILE_CAP:
        return None, f"it is {info.st_size:,} bytes, more than the {FILE_CAP:,} a code file may have"
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as err:
        return None, f"it could not be opened without following a link ({err.strerror or err})"
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None, "it is not a regular file (a FIFO, a device, a socket or a folder)"
        chunks, size = [], 0
        while size <= FILE_CAP:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as err:
        return None, f"it could not be read ({err.strerror or err})"
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > FILE_CAP:
        return None, f"it grew past the {FILE_CAP:,} bytes a code file may have while it was read"
    if b"\0" in data:
        return None, "it holds NUL bytes, so it is a binary file, not code"
    try:
        return data.decode("utf-8-sig"), ""
    except UnicodeDecodeError as err:
        return None, f"it is not UTF-8 text (byte {err.start:,} cannot be decoded)"


# -- fingerprints ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Given:
    """What every learner was given, as copydetect sees it: the k-gram hashes of the stubs, the
    hints and the section's code (its `boilerplate`), and the hints' recipes normalised."""

    hashes: np.ndarray
    recipes: tuple[str, ...] = ()


def fingerprint(file: str, code: str, *, window: int | None = None, given: Given | None = None):
    """copydetect's fingerprint of one file's code: tokens normalised, the boilerplate removed,
    and any k-gram at least half of which is a hint's recipe removed too (a recipe is shorter than
    a k-gram, so copydetect's boilerplate alone leaves the recipe with a few tokens of whatever
    code surrounds it). The window is WINDOW unless given (1 keeps every k-gram)."""
    import copydetect
    from copydetect.utils import get_token_coverage

    language = "python" if file.endswith(".py") else None
    hashes = given.hashes if given is not None else None
    print_ = copydetect.CodeFingerprint(file, K, window or WINDOW, boilerplate=hashes, fp=io.StringIO(code), language=language)
    if given is not None and given.recipes:
        mostly = mostly_recipe(print_.filtered_code, given.recipes)
        dropped = [h for h, where in print_.hash_idx.items() if mostly[where].any()] if mostly.any() else []
        if dropped:
            for h in dropped:
                del print_.hash_idx[h]
                print_.hashes.discard(h)
            print_.token_coverage = get_token_coverage(print_.hash_idx, K, len(print_.filtered_code))
    return print_


def mostly_recipe(filtered: str, recipes: tuple[str, ...]):
    """For each k-gram of the normalised code (by its start), whether half or more of it is a hint's recipe."""
    import numpy as np

    covered = np.zeros(len(filtered) + 1, dtype=np.int32)
    for recipe in recipes:
        found = filtered.find(recipe)
        while found >= 0:
            covered[found] += 1
            covered[found + len(recipe)] -= 1
            found = filtered.find(recipe, found + 1)
    inside = np.concatenate([[0], np.cumsum(np.cumsum(covered)[:-1] > 0)])  # characters in a recipe before each position
    starts = np.arange(max(0, len(filtered) - K + 1))
    return 2 * (inside[starts + K] - inside[starts]) >= K


def fingerprint_all(file: str, texts: list[str], given: Given) -> list:
    """Every text's fingerprint, one after the other. (Forked processes, one per core, were slower
    on these machines: sending a fingerprint's positions back costs more than the tokenizer.)"""
    return [fingerprint(file, text, given=given) for text in texts]


def hint_phrases(catalogue: course.Course) -> list[str]:
    """The code-like phrases of the hints: calls, with what is chained to them."""
    return [phrase for exercise in catalogue.exercises for phrase in CODE_PHRASE.findall(exercise.hint)]


def boilerplate_texts(root: Path, catalogue: course.Course) -> list[str]:
    """What every learner was given: the stubs, the hints (whole, and each code-like phrase alone,
    assigned and returned), the section's code blocks."""
    texts = []
    for file in catalogue.files:
        try:
            texts.append((root / "exercises" / file).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError):
            pass
    texts += [exercise.hint for exercise in catalogue.exercises]
    for phrase in hint_phrases(catalogue):
        texts += [phrase, f"x = {phrase}", f"return {phrase}"]
    texts.append(resources.files("embedlab.instructor").joinpath("section_code.py.txt").read_text(encoding="utf-8"))
    return texts


def boilerplate(root: Path, catalogue: course.Course) -> Given:
    """Every k-gram hash of the boilerplate (a window of 1: all of them, as copydetect does), and
    the hints' recipes as copydetect normalises them (those of RECIPE_LENGTH characters or more,
    half a k-gram: shorter ones, such as `V.V(V)` for any call at all, are never half of one)."""
    import numpy as np
    from copydetect.utils import filter_code

    hashes: list[int] = []
    for text in boilerplate_texts(root, catalogue):
        hashes.extend(int(h) for h in fingerprint("boilerplate.py", text, window=1).hashes)
    recipes = {filter_code(phrase, "recipe.py", "python")[0] for phrase in hint_phrases(catalogue)}
    recipes = {r for r in recipes if len(r) >= RECIPE_LENGTH and "..." not in r}
    return Given(np.unique(np.array(hashes, dtype=np.int64)), tuple(sorted(recipes)))


def shared_counts(sets: list[np.ndarray]) -> np.ndarray:
    """How many fingerprints each pair of files shares (n x n), from one incidence matrix: only
    fingerprints held by two files or more take a column, multiplied CHUNK columns at a time."""
    import numpy as np

    n = len(sets)
    shared = np.zeros((n, n), dtype=np.float64)
    sizes = np.array([len(s) for s in sets], dtype=np.int64)
    if n < 2 or not sizes.sum():
        return shared
    flat = np.concatenate(sets)
    owner = np.repeat(np.arange(n), sizes)
    _, inverse, counts = np.unique(flat, return_inverse=True, return_counts=True)
    common = counts >= 2
    column = np.cumsum(common) - 1
    keep = common[inverse]
    rows, columns = owner[keep], column[inverse[keep]]
    total = int(common.sum())
    for start in range(0, total, CHUNK):
        chosen = (columns >= start) & (columns < start + CHUNK)
        matrix = np.zeros((n, min(CHUNK, total - start)), dtype=np.float32)
        matrix[rows[chosen], columns[chosen] - start] = 1.0
        shared += matrix @ matrix.T  # exact: sums of at most CHUNK ones
    return shared


# -- the class's pairs -----------------------------------------------------------------------------


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


def compare_class(folder: Path, root: Path) -> Report:
    import numpy as np

    seconds = dict.fromkeys(("read", "fingerprint", "score", "passages"), 0.0)
    clock = time.perf_counter()

    def lap(phase: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[phase] += now - clock
        clock = now

    catalogue = course.load(root / course.FILENAME)
    names, codes, refused = read_class(folder, catalogue.files)
    lap("read")
    given = boilerplate(root, catalogue)
    results = []
    for file in catalogue.files:
        mine = codes[file]
        who = sorted(mine)
        texts = list(dict.fromkeys(mine[name] for name in who))  # files handed in alike are fingerprinted once
        by_text = dict(zip(texts, fingerprint_all(file, texts, given)))
        prints = {name: by_text[mine[name]] for name in who}
        sets = [np.fromiter((int(h) for h in prints[name].hashes), dtype=np.int64, count=len(prints[name].hashes)) for name in who]
        lap("fingerprint")
        results.append(score_file(file, who, sets))
        lap("score")
        for pair in results[-1].shown():
            _passages(pair, prints, given)
        lap("passages")
    return Report(catalogue.title, names, results, refused, seconds)


def score_file(file: str, who: list[str], sets: list[np.ndarray]) -> FileResult:
    """Every pair's score, the file's distribution, the marks."""
    import numpy as np

    n = len(who)
    result = FileResult(file, who, [], n * (n - 1) // 2)
    if n < 2:
        return result
    shared = shared_counts(sets)
    sizes = np.array([len(s) for s in sets], dtype=np.float64)
    scores = np.minimum(shared / np.maximum(np.minimum.outer(sizes, sizes), MIN_FINGERPRINTS), 1.0)
    i, j = np.triu_indices(n, k=1)
    every = scores[i, j]
    result.median = float(np.median(every))
    result.mad = float(np.median(np.abs(every - result.median)))
    result.threshold = max(FLOOR, result.median + MADS * result.mad)
    stands_out = (every > result.median + MADS * result.mad) & (every >= FLOOR)
    some = np.nonzero(shared[i, j] > 0)[0]
    pairs = [Pair(file, who[i[x]], who[j[x]], int(shared[i[x], j[x]]), float(every[x]), bool(stands_out[x])) for x in some]
    pairs.sort(key=lambda p: (-p.score, -p.shared, p.a, p.b))
    result.pairs = pairs
    return result


def _passages(pair: Pair, prints: dict, given: Given) -> None:
    """The pair's matching passages, from copydetect's compare_files (at full resolution: every
    k-gram, a window of 1, whatever WINDOW is), highlighted."""
    import copydetect

    left, right = prints[pair.a], prints[pair.b]
    if WINDOW != 1:
        left = fingerprint(pair.file, left.raw_code, window=1, given=given)
        right = fingerprint(pair.file, right.raw_code, window=1, given=given)
    _, overlap, (slices_a, slices_b) = copydetect.compare_files(left, right)
    pair.overlap = (float(overlap[0]), float(overlap[1]))
    pair.sides = (highlighted(left.raw_code, slices_a), highlighted(right.raw_code, slices_b))


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
    return BIDI.sub(lambda m: f"<span class=\"ctl\">U+{ord(m.group()):04X}</span>", escaped)


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
    rows = "".join(f'<tr><td>{text(r.submission)}</td><td>{text(r.file)}</td><td>{text(r.sentence)}</td></tr>' for r in refused[: 200])
    more = f'<p class="note">and {len(refused) - 200} more: see {CSV_NAME}.</p>' if len(refused) > 200 else ""
    return f'<table id="refused" data-count="{len(refused)}"><tr><th>submission</th><th>file</th><th>why</th></tr>{rows}</table>{more}'

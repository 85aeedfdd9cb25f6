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
import io
import os
import stat
import sys
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from embedlab import course
from embedlab.instructor import submissions
from embedlab.instructor.similarity_page import (  # noqa: F401 - the report's types and numbers, with the page
    BIDI,
    CHUNK,
    CODE_PHRASE,
    CONTEXT,
    CSV_NAME,
    FILE_CAP,
    FLOOR,
    HTML_NAME,
    LINES_SHOWN,
    MADS,
    MARKED_SHOWN,
    MIN_FINGERPRINTS,
    RECIPE_LENGTH,
    SHOWN,
    WINDOW,
    FileResult,
    K,
    Pair,
    Refusal,
    Report,
    highlighted,
    write,
    write_csv,
)

if TYPE_CHECKING:
    import numpy as np


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
    if not submissions.submission_folders(args.submissions):
        print(f"embedlab similarity: no submissions in {args.submissions}", file=sys.stderr)
        return 2
    try:
        import copydetect  # noqa: F401 - the `similarity` extra: only whether it is installed
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
        import copydetect  # noqa: F401 - the `similarity` extra: only whether it is installed
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


def read_class(folder: Path, files: list[str]) -> tuple[list[str], dict[str, dict[str, str]], list[Refusal]]:
    """The submissions' names, their exercise files' text (file -> submission -> code), and the
    files refused. Where a submission keeps its files is found as grading finds it."""
    names, codes, refused = [], {f: {} for f in files}, []
    wanted = {Path(f).name for f in files}
    for entry in submissions.submission_folders(folder):
        names.append(entry.name)
        found = _listing(Path(entry.path), wanted)
        prefix = submissions.exercises_prefix(found)
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
            if entries > submissions.ENTRY_CAP:
                return found
            relative = prefix + entry.name
            if entry.name in wanted:
                found[relative] = Path(entry.path)
            try:
                descend = entry.is_dir(follow_symlinks=False)
            except OSError:
                continue
            if descend and entry.name not in submissions.SKIPPED_DIRS and not entry.name.startswith(".") and depth < submissions.DEPTH_CAP:
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

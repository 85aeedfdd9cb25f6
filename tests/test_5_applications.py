"""Exercise 4 — beyond the section, in exercises/applications.py: top_k, VectorStore,
near_duplicates and classify.

The texts these tests embed are below, where you can read them: recorded from a real server
(cassettes/), each claim the tests make about them checked on the recorded vectors first.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import os
import re
import stat
import time
from pathlib import Path

import httpx2
import numpy as np
import pytest

from embedlab.testing import a_or_an, attempt, brief, describe_exception, expect, fail, NotStarted, RemoteObject, watch
from tests import in_the_worker
from tests.reference import cosine_ref, expect_defaults_used, raises, seeded_best_rows, seeded_query
from tests.store_file import store_contents
from tests.synthetic import Synthetic

from hypothesis import assume, given  # noqa: F401 - the generated-input checks below
from hypothesis import strategies as st  # noqa: F401
from tests.generated import (  # noqa: F401
    FORMS, Generated, all_axes, assign, budget, close, cosine_exact, examples_st, exactly_tied, is_plain_float,
    out_of_order, run, shown_vector, texts_st, top_k_cases, top_k_expected, top_k_scores, vector_pairs, word,
)

# -- the corpus ------------------------------------------------------------------------------------

# Notes with planted near-duplicates: three paraphrase pairs and one exact duplicate, among
# unrelated texts.
NOTES = [
    "The meeting has been moved to Thursday afternoon.",
    "Bananas are rich in potassium.",
    "How do I reset my password?",
    "Please restart the router and try again.",
    "The violin concert starts at eight tonight.",
    "The meeting was rescheduled for Thursday afternoon.",
    "Glaciers are melting faster every decade.",
    "How can I reset my password?",
    "Because of the strike, the train to Paris was cancelled.",
    "She planted tomatoes in the garden.",
    "Please restart the router and try again.",
    "The train to Paris was cancelled because of the strike.",
    "Our team won the football match on Sunday.",
]
PLANTED = [(0, 5), (2, 7), (3, 10), (8, 11)]  # (3, 10) is the exact duplicate
LOW = 0.6  # every planted pair scores above it, every other pair below (with MARGIN to spare)
CLOSE = [(2, 7), (3, 10), (8, 11)]  # the pairs above the default 0.9; (0, 5) stays below it

# Support tickets to classify. The nearest example's label is not the label with the most
# examples, nor the most common among the three nearest, nor the one whose examples are closest
# on average (their centroid), nor the one sharing the most words with the ticket.
TICKET = "The app crashes every time I open the camera."
TICKET_EXAMPLES = {
    "bugs": [
        "Opening the camera makes the application close immediately.",
        "The export button does nothing on Windows.",
        "Dark mode shows white text on a white background.",
    ],
    "features": [
        "Please add a camera filter for black and white photos.",
        "I wish the app had a camera timer.",
        "Could you add more camera settings?",
        "Add an option to share photos from the camera.",
    ],
    "billing": ["I was charged after I cancelled.", "Where can I download my receipt?"],
}
ORDER = "I was charged twice for my order."
ORDER_EXAMPLES = {
    "billing": ["Why was my card charged two times?", "How do I update the VAT number on my invoices?", "Can I pay by bank transfer?"],
    "shipping": [
        "Where is my order?",
        "My order has not arrived yet.",
        "Can I change the delivery address for my order?",
        "How long does shipping take?",
    ],
    "account": ["I forgot my password.", "How do I delete my account?"],
}
CASES = [(TICKET, TICKET_EXAMPLES, "bugs"), (ORDER, ORDER_EXAMPLES, "billing")]

# The vector store gets NOTES[:6] (one of them twice), then NOTES[4:9] (two it holds already).
STORE_FIRST = NOTES[:6] + [NOTES[0]]
STORE_SECOND = NOTES[4:9]
STORE_QUERY = "When is the meeting?"

MARGIN = 0.05  # how far every claim about the corpus holds on the recorded vectors

# top_k: a big seeded matrix built in the worker (never sent through the pipe), rows not unit length.
BIG = (100_000, 384, 16)  # rows, dimensions, seed
THIN = (100_000, 8, 17)  # for the speed check: with few dimensions, what a loop costs per row shows
SLOWER = 4.0  # how many times a plain vectorised answer's time top_k may take
DUPLICATES_SLOWER = 3.0  # near_duplicates' time once its vectors are in, against the reference's
# Slow means both: past the factor, and by more than a busy machine's hiccup. A loop costs far more
# (a Python loop over 100,000 rows, or 19,900 cosine() calls, is a tenth of a second or more); a
# correct answer graded beside another submission on two cores can lose tens of milliseconds.
SLOW_BY = 0.04  # seconds


def too_slow(took: float, base: float, factor: float) -> bool:
    return took > factor * base and took - base > SLOW_BY


def not_highest_first(shown: str, scores: list[float], slack: float = 0.0) -> str | None:
    """Why `scores` are not highest first, in one sentence (None when they are): every score when
    there are few, else the first place where a lower one comes before a higher one."""
    broken = next((i for i, (a, b) in enumerate(zip(scores, scores[1:])) if a < b - slack), None)
    if broken is None:
        return None
    if len(scores) <= 10:
        return f"{shown} is not sorted highest score first: {[round(s, 4) for s in scores]}"
    return (
        f"{shown} is not sorted highest score first: of its {len(scores)} results, results {broken + 1} and "
        f"{broken + 2} score {scores[broken]:.4f} and {scores[broken + 1]:.4f}"
    )

WORKER_CODE = Path(__file__).with_name("in_the_worker.py")
CLASSIFY_HINT = "classify() embeds the text and every example in one request: the text first (or last), then the examples label by label, in the order given."
DUPLICATES_HINT = "near_duplicates() embeds the texts it is given, as given and in their order, in one request."


# -- shared helpers --------------------------------------------------------------------------------


REPEATED = (
    "a text repeated in one add() call counts once, so embed each new text once, in the order given "
    "(list(dict.fromkeys(texts)) drops the repeats)"
)


def use(api, method, *args, shown: str):
    """Call a method of the learner's object (no client or model to pass): errors in one sentence."""
    first = len(api.sent)
    try:
        return method(*args)
    except NotImplementedError as err:
        raise NotStarted(str(err) or "VectorStore is not written yet.") from None
    except Exception as err:
        unrecorded = [s for s in api.sent[first:] if not s.recorded]
        if unrecorded:
            fail(api.explain_unrecorded(shown, unrecorded[0], "Embed the new texts in one list, once each, in the order given.", repeated=REPEATED))
        fail(describe_exception(shown, err))


def cpu(target, function, *args, **kwargs) -> float:
    """The CPU seconds a call into the worker used, read by the grading process from the kernel's
    accounting of the worker's processes: the learner's code cannot patch that clock, and a busy
    neighbour does not move it."""
    return target.cpu_of(lambda: function(*args, **kwargs))[1]


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float64)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def is_int(value) -> bool:
    return type(value) is int


def is_float(value) -> bool:
    return type(value) is float


_cache: dict[tuple, RemoteObject] = {}


def in_worker(target, name: str, *args):
    """A value the grader's own code builds in the worker, kept there (made again in a new worker)."""
    key = (name, *args)
    value = _cache.get(key)
    if value is None or not value.alive:
        value = _cache[key] = target.grader_code(WORKER_CODE).function(name, keep=True)(*args)
    return value


def grader(target, name: str):
    return target.grader_code(WORKER_CODE).function(name)


_big: dict[str, object] = {}


def big_case(target):
    """The big seeded matrix (in the worker), a query near three of its rows, and its 540 best rows
    scored exactly: the query and the answer worked out once, in the grading process."""
    rows, dims, seed = BIG
    matrix = in_worker(target, "seeded_matrix", rows, dims, seed)
    if not _big:
        raw, scales = in_the_worker.seeded_parts(rows, dims, seed)
        query = seeded_query(raw, scales, [11, 2024, 77_777], seed)
        _big.update(query=query, best=seeded_best_rows(query, raw, scales, 540))
    return matrix, _big["query"], _big["best"]


def cap_for(factor: float, function, *args) -> float:
    """`factor` times the CPU time the grader's `function(*args)` takes here, in the grading
    process: the most a reference's time in the worker may count (`capped`)."""
    started = time.process_time()
    function(*args)
    return factor * (time.process_time() - started)


def capped(there, cap: float) -> float:
    """A reference's time in the worker, `there()`, and never more than `cap`: the learner's code
    can slow numpy down in its worker, to make a loop look fast beside it, but not in the grading
    process. The cap binds only then: the same work here takes about as long (a loop takes ten or
    a hundred times as long)."""
    try:
        took = there()
    except Exception:  # it failed there: the learner's code broke numpy in its worker
        return cap
    return min(took, cap)


# -- top_k -----------------------------------------------------------------------------------------


def check_top_k(result, expected: list[tuple[int, float]], k: int, shown: str, rows: int, tolerance: float = 1e-4) -> None:
    """The shape of top_k's answer, its indices and scores; `expected` holds at least k + a few
    best rows, scored exactly, so near-ties at the cut cannot fail a correct answer."""
    if isinstance(result, np.ndarray):
        fail(f"{shown} returned a numpy array of shape {result.shape}; return a list of (row index, score) tuples")
    expect(isinstance(result, list), f"{shown} returned {brief(result)} ({a_or_an(type(result).__name__)}); return a list of (row index, score) tuples")
    want = min(k, rows)
    expect(len(result) == want, f"{shown} returned {len(result)} pairs; expected {want}: the min(k, n) best rows")
    for item in result:
        expect(isinstance(item, (tuple, list)) and len(item) == 2, f"{shown} returned the item {brief(item)}; each item is a (row index, score) pair")
        index, score = item
        if isinstance(index, float) and isinstance(score, (int, np.integer)):
            fail(f"{shown} returned ({brief(index)}, {brief(score)}): put the row index first, then the score")
        expect(
            is_int(index) and is_float(score),
            f"{shown} returned ({brief(index)}, {brief(score)}), {a_or_an(type(index).__name__)} and {a_or_an(type(score).__name__)}; "
            "return a plain int and a plain float: int(i) and float(score) turn numpy numbers into them",
        )
        expect(0 <= index < rows, f"{shown} returned row index {index}; the matrix has rows 0 to {rows - 1}")
    scores = [score for _, score in result]
    if any(s > 1.0 + 1e-6 for s in scores):
        fail(
            f"{shown} gave scores above 1 ({max(scores):.3f}): a cosine is never above 1. Divide each dot product "
            "by both lengths: these rows are not of length 1"
        )
    if len(scores) > 1 and all(a <= b for a, b in zip(scores, scores[1:])) and scores[0] < scores[-1]:
        fail(f"{shown} is sorted lowest score first, from {scores[0]:.4f} up to {scores[-1]:.4f}; put the highest first")
    unsorted = not_highest_first(shown, scores)
    if unsorted:
        fail(unsorted + "; sort the rows you return, highest score first (np.argpartition keeps the k best in no particular order)")
    exact = dict(expected)
    indices = [index for index, _ in result]
    twice = [i for i in indices if indices.count(i) > 1]
    expect(not twice, f"{shown} returned row {twice[0] if twice else ''} twice; each row at most once")
    cut = expected[want - 1][1]
    wrong = [(i, s) for i, s in result if i not in exact or exact[i] < cut - tolerance or abs(s - exact[i]) > tolerance]
    if wrong:
        shifted = [(i - 1, s) for i, s in result]
        if all(i in exact and abs(s - exact[i]) <= tolerance for i, s in shifted):
            fail(f"{shown}: every row index is one too high; rows count from 0, as numpy's do")
        index, score = wrong[0]
        if index in exact:
            fail(
                f"{shown} gave row {index} the score {score:.6f}, but its cosine with the query is {exact[index]:.6f}: "
                "divide each dot product by the row's length and the query's — these rows are not of length 1"
            )
        fail(
            f"{shown} returned row {index} (score {score:.4f}), which is not among the {want} most similar rows "
            f"(the {want}th best scores {cut:.4f}). Score every row by cosine — dot product over both lengths — "
            "and keep the highest"
        )


def small_matrix(api) -> tuple[np.ndarray, np.ndarray]:
    """The recorded vectors of NOTES, and a query vector: the vector of STORE_QUERY."""
    return api.vectors(NOTES), api.vectors([STORE_QUERY])[0]


def exact_best(query, matrix) -> list[tuple[int, float]]:
    scored = [(i, cosine_ref(query, row)) for i, row in enumerate(np.asarray(matrix, dtype=np.float64))]
    return sorted(scored, key=lambda pair: (-pair[1], pair[0]))


@pytest.mark.exercise("top_k")
class TestTopK:
    @pytest.fixture
    def top_k(self, target):
        return target.function("applications", "top_k")

    @pytest.mark.lesson
    @pytest.mark.points(2)
    def test_finds_the_most_similar_recorded_vectors(self, top_k, api):
        """Finds the k rows most similar to a query among recorded vectors: arrays, lists, float32"""
        matrix, query = small_matrix(api)
        expected = exact_best(query, matrix)
        for shown_as, vectors, q in (
            ("a float64 array", matrix, query),
            ("a float32 array", matrix.astype(np.float32), query.astype(np.float32)),
            ("a list of lists", matrix.tolist(), query.tolist()),
        ):
            shown = f"top_k(query, NOTES' vectors as {shown_as}, k=3)"
            given = vectors.copy() if isinstance(vectors, np.ndarray) else [list(row) for row in vectors]
            result = attempt(top_k, watch(q), watch(given), 3)
            check_top_k(result, expected, 3, shown, len(NOTES))
            same = np.array_equal(np.asarray(given), np.asarray(vectors))
            expect(same, f"{shown} changed the matrix it was given; leave its arguments as they were (work on a copy)")

    @pytest.mark.points(2)
    def test_scores_by_cosine_on_a_big_matrix_of_rows_not_of_length_one(self, top_k, target):
        """On 100,000 float32 rows of 384 numbers, not of length 1: the right rows, scored by cosine"""
        rows, dims, _ = BIG
        matrix, query, expected = big_case(target)
        before = grader(target, "fingerprint")(matrix)
        shown = f"top_k(query, a {rows:,} × {dims} float32 matrix, k=10)"
        result = attempt(top_k, query, matrix, 10)
        expect(grader(target, "fingerprint")(matrix) == before, f"{shown} changed the matrix it was given; leave it as it was")
        check_top_k(result, expected, 10, shown, rows)

    @pytest.mark.points(1)
    def test_highest_first_and_equal_scores_by_lower_index(self, top_k, target):
        """Highest score first, for a large k too; equal scores by the lower row index"""
        rows, dims, _ = BIG  # k=500 of 100,000: np.argpartition leaves so many in no order
        matrix, query, expected = big_case(target)
        shown = f"top_k(query, a {rows:,} × {dims} float32 matrix, k=500)"
        check_top_k(attempt(top_k, query, matrix, 500), expected, 500, shown, rows)
        vectors = [[0.0, 1.0], [3.0, 4.0], [1.0, 0.0], [6.0, 8.0], [3.0, 4.0], [-3.0, -4.0]]
        query = [3.0, 4.0]
        shown = f"top_k({query}, {vectors}, k=5)"
        result = attempt(top_k, query, vectors, 5)
        expected = [(1, 1.0), (3, 1.0), (4, 1.0), (0, 0.8), (2, 0.6)]
        check_top_k(result, expected, 5, shown, len(vectors), tolerance=1e-6)
        indices = [index for index, _ in result]
        expect(
            indices == [1, 3, 4, 0, 2],
            f"{shown} returned the rows {indices}; rows 1, 3 and 4 all score 1.0 and equal scores go by the lower "
            "index: [1, 3, 4, 0, 2]. np.argsort's default sort does not keep ties in order: sort by (-score, index)",
        )

    @pytest.mark.points(1)
    def test_returns_plain_int_and_float_pairs(self, top_k):
        """Returns a list of (int, float) tuples, whatever the dtype it was given"""
        vectors = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
        for dtype in (np.float64, np.float32):
            shown = f"top_k([1, 0], {a_or_an(np.dtype(dtype).name)} matrix, k=2)"
            result = attempt(top_k, np.array([1.0, 0.0], dtype=dtype), vectors.astype(dtype), 2)
            check_top_k(result, [(0, 1.0), (2, math.sqrt(0.5)), (1, 0.0)], 2, shown, 3, tolerance=1e-6)

    @pytest.mark.points(1)
    def test_gives_all_rows_when_k_is_larger_and_five_by_default(self, top_k, api):
        """Gives min(k, n) rows: all of them when k is larger, five by default"""
        matrix, query = small_matrix(api)
        expected = exact_best(query, matrix)
        result = attempt(top_k, query, matrix[:3], 10)
        check_top_k(result, exact_best(query, matrix[:3]), 10, "top_k(query, 3 rows, k=10)", 3)
        result = attempt(top_k, query, matrix)
        check_top_k(result, expected, 5, "top_k(query, NOTES' vectors) with the default k", len(NOTES))

    @pytest.mark.points(1)
    def test_bad_arguments_raise_value_error(self, top_k):
        """A dimension mismatch, no rows, k < 1 or a zero vector raise ValueError"""
        rows = [[1.0, 2.0, 3.0], [3.0, 1.0, 0.5]]
        for args, shown, why in (
            (([1.0, 2.0], rows, 2), "top_k([1, 2], rows of 3 numbers)", "the query and the rows must have as many numbers"),
            (([1.0, 2.0, 3.0], np.empty((0, 3)), 2), "top_k(query, a matrix with no rows)", "there is nothing to search"),
            (([1.0, 2.0, 3.0], rows, 0), "top_k(query, rows, k=0)", "k is how many rows to return: at least 1"),
            (([0.0, 0.0, 0.0], rows, 2), "top_k([0, 0, 0], rows)", "a zero vector has no direction, so no cosine"),
        ):
            raises(ValueError, top_k, *args, shown=shown, why=why)

    @pytest.mark.lesson
    @pytest.mark.points(2)
    def test_scores_every_row_at_once_not_in_a_python_loop(self, top_k, target):
        """Scores 100,000 rows in one vectorised computation, not a Python loop over the rows"""
        rows, dims, seed = THIN
        matrix = in_worker(target, "seeded_matrix", rows, dims, seed)
        raw, scales = in_the_worker.seeded_parts(rows, dims, seed)
        here = in_the_worker.seeded_rows(raw, scales, slice(None))  # 3 MB: the same matrix, in this process
        # A new query for every look: an answer remembered from an earlier call gains nothing.
        queries = [seeded_query(raw, scales, near, seed) for near in ([5, 55_555], [6, 44_444], [7, 33_333])]
        query = queries[0]
        plain = grader(target, "plain_top_k")

        cap = cap_for(3.0, in_the_worker.plain_top_k, query, here, 10)

        def reference_time(q) -> float:
            """The plain answer's CPU time in the worker, where the learner's code runs (capped)."""
            return capped(lambda: cpu(target, plain, q, matrix, 10), cap)

        reference = min(reference_time(q) for q in queries)
        shown = f"top_k(query, a {rows:,} × {dims} matrix, k=10)"
        result, took = target.cpu_of(lambda: attempt(top_k, query, matrix, 10))
        for again in queries[1:]:  # again while it looks slow (CPU time, not a clock a neighbour moves)
            if not too_slow(took, reference, SLOWER):
                break
            took = min(took, target.cpu_of(lambda q=again: attempt(top_k, q, matrix, 10))[1])
        expect(
            not too_slow(took, reference, SLOWER),
            f"{shown} took {took * 1000:.0f} ms of CPU, {took / reference:.0f} times as much as a plain vectorised answer "
            f"({reference * 1000:.0f} ms): is there a Python loop over the rows? Score them all "
            "at once with one matrix product, vectors @ query, and divide by all the lengths at once",
        )
        check_top_k(result, seeded_best_rows(query, raw, scales, 40), 10, shown, rows)


# -- VectorStore -----------------------------------------------------------------------------------


def record_store(api) -> None:
    """What a correct store asks, and what common mistakes ask (so they hear why, not 'no recording')."""
    api.vectors(NOTES[:6])
    api.vectors(NOTES[6:9])
    api.vectors(STORE_SECOND)  # a store that embeds again the texts it holds
    api.vectors([STORE_QUERY])
    for text in NOTES[:9]:  # one request per text
        api.vectors([text])
    api.vectors(NOTES[:9])  # a store that kept nothing, reopened


def texts_in_the_file(path: Path, texts: list[str]) -> list[str]:
    """Which of `texts` the store's file holds (read here, with the kit's own sqlite3)."""
    if not path.is_file():
        return []
    cells = {c for table in store_contents(path)["tables"].values() for row in table["rows"] for c in row if isinstance(c, str)}
    return [t for t in texts if t in cells]


def reopened_sentence(added, sent: list, kept: list[str], held: list[str]) -> str:
    """Why a reopened store's add() of texts it held is wrong, from what was measured: which texts
    its file kept, which it sent again, what it returned."""
    shown = f"Reopened in a new process, store.add(NOTES[:{len(held)}])"
    again = [t for t in dict.fromkeys(sent) if t in held]
    if not kept:
        return (
            f"{shown} sent {len(again)} of its {len(held)} texts again and returned {brief(added)}: its file holds "
            "none of them, so nothing the store held survived. Write each text and its vector to the SQLite file, "
            "and commit()"
        )
    if len(kept) < len(held):
        lost = [t for t in held if t not in kept]
        return (
            f"{shown} sent {len(again)} of its texts again: its file kept only {len(kept)} of the {len(held)} texts "
            f"(not {brief(lost[0])}). Write every text and its vector to the file, and commit() after each add()"
        )
    if again:
        which = f"all {len(held)} texts" if len(again) == len(held) else f"{len(again)} of the {len(held)} texts (such as {brief(again[0])})"
        return (
            f"{shown} sent {which} it holds again, though its file kept all of them: ask the SQLite table which "
            "texts it holds, not a list kept in memory, and embed only the others"
        )
    return f"{shown} made no request for texts it holds, but returned {brief(added)}: it embedded nothing now, so return 0"


def stored_vectors(api) -> dict[str, np.ndarray]:
    first, second = api.vectors(NOTES[:6]), api.vectors(NOTES[6:9])
    return {**dict(zip(NOTES[:6], first)), **dict(zip(NOTES[6:9], second))}


class Store:
    """The learner's VectorStore, in the worker, and the one-sentence checks on what it does."""

    def __init__(self, api, target, path: Path, model: str | None = None) -> None:
        self.api = api
        self.path = path
        make = target.function("applications", "VectorStore", objects=True)
        if model is None:
            self.obj = api.call(make, str(path), hint="VectorStore(path) sends no request: it embeds in add() and search().")
        else:
            self.obj = attempt(make, str(path), client=api.client, model=model)
        expect(
            isinstance(self.obj, RemoteObject),
            f"VectorStore({str(path)!r}) returned {brief(self.obj)}; it should make a VectorStore object (a class)",
        )

    def call(self, name: str, *args, shown: str | None = None):
        shown = shown or f"store.{name}({', '.join(brief(a) for a in args)})"
        return use(self.api, self.obj.method(name), *args, shown=shown)

    def add(self, texts: list[str], embeds: list[str], shown: str) -> None:
        first = len(self.api.sent)
        added = self.call("add", list(texts), shown=shown)
        sent = self.api.sent[first:]
        new = list(dict.fromkeys(embeds))
        if not new:
            expect(
                not sent,
                f"{shown} made {len(sent)} request(s), but the store holds all these texts already: "
                "embed only the texts it does not hold (none here: no request at all)",
            )
        else:
            expect(sent, f"{shown} sent no request through the `client` the store was given: pass it on to embed()")
            held = [t for s in sent for t in s.texts if t not in new]
            if held:
                fail(
                    f"{shown} embedded {brief(held[0])} again, which the store already holds: ask the table which "
                    "texts it has, and embed only the new ones"
                )
            expect(
                len(sent) == 1,
                f"{shown} made {len(sent)} requests for {len(new)} new texts; embed all the new texts in one request",
            )
            expect(
                sent[0].texts == new,
                f"{shown} sent {brief(sent[0].texts)}; expected the new texts, once each, in the order given: {brief(new)}",
            )
        expect(
            is_int(added) and added == len(new),
            f"{shown} returned {brief(added)}; it embedded {len(new)} new text(s) now, so it should return {len(new)} (an int)",
        )

    def length(self, shown: str = "len(store)") -> int:
        value = self.call("__len__", shown=shown)
        expect(is_int(value), f"{shown} returned {brief(value)}; it should be a whole number (int)")
        return value

    def close(self) -> None:
        self.call("close", shown="store.close()")


def check_search(result, expected: list[tuple[float, str]], k: int, shown: str) -> None:
    expect(isinstance(result, list), f"{shown} returned {brief(result)}; return a list of (score, text) tuples")
    expect(len(result) == min(k, len(expected)), f"{shown} returned {len(result)} results; expected the {min(k, len(expected))} best")
    want = dict((text, score) for score, text in expected)
    cut = expected[min(k, len(expected)) - 1][0]
    for item in result:
        expect(isinstance(item, (tuple, list)) and len(item) == 2, f"{shown} returned the item {brief(item)}; each is a (score, text) pair")
        score, text = item
        if isinstance(score, str):
            fail(f"{shown} returned ({brief(score)}, {brief(text)}): put the score first, (score, text), as rank() does")
        expect(isinstance(score, (int, float)) and not isinstance(score, bool), f"{shown} gave the score {brief(score)}; a score is a float")
        expect(text in want, f"{shown} returned {brief(text)}, which is not one of the stored texts")
        expect(
            abs(float(score) - want[text]) <= 1e-4,
            f"{shown} scored {text!r} {float(score):.4f}, but the cosine of its stored vector with the query's is "
            f"{want[text]:.4f}",
        )
        expect(want[text] >= cut - 1e-4, f"{shown} returned {text!r}, which is not among the {k} most similar stored texts")
    scores = [float(score) for score, _ in result]
    unsorted = not_highest_first(shown, scores)
    if unsorted:
        fail(unsorted)


@pytest.mark.exercise("vector_store")
class TestVectorStore:
    @pytest.fixture
    def folder(self, target):
        return target.scratch_folder("store")

    def filled(self, api, target, folder: Path, *, strict: bool = False) -> Store:
        """A store holding NOTES[:9]. Strict (add()'s own check): through a repeat and texts it holds
        already, every request and answer checked. Otherwise in two batches of new texts, nothing
        checked: a mistake in add() costs add()'s points, not those of every check after it."""
        record_store(api)
        store = Store(api, target, folder / "notes.db")
        if strict:
            store.add(STORE_FIRST, NOTES[:6], "store.add(NOTES[:6] + [NOTES[0]])")
            store.add(STORE_SECOND, NOTES[6:9], "then store.add(NOTES[4:9])")
        else:
            store.call("add", list(NOTES[:6]), shown="store.add(NOTES[:6])")
            store.call("add", list(NOTES[6:9]), shown="then store.add(NOTES[6:9])")
        return store

    @pytest.mark.lesson
    @pytest.mark.points(3)
    def test_add_embeds_only_new_texts_once_in_one_request(self, api, target, folder):
        """add() embeds only the texts it does not hold, once each, in one request, and says how many"""
        store = self.filled(api, target, folder, strict=True)
        store.add(NOTES[2:9], [], "then store.add(NOTES[2:9])")
        expect(store.length() == 9, f"len(store) is {store.length()} after adding 9 different texts")
        store.close()

    @pytest.mark.points(2)
    def test_search_ranks_the_stored_texts_like_rank(self, api, target, folder):
        """search() embeds the query in one request and ranks the stored texts by cosine"""
        store = self.filled(api, target, folder)
        vectors = stored_vectors(api)
        query = api.vectors([STORE_QUERY])[0]
        expected = sorted(((cosine_ref(query, vectors[t]), t) for t in NOTES[:9]), key=lambda pair: -pair[0])
        first = len(api.sent)
        shown = f"store.search({STORE_QUERY!r}, k=3)"
        result = store.call("search", STORE_QUERY, 3, shown=shown)
        sent = api.sent[first:]
        expect(len(sent) <= 1, f"{shown} made {len(sent)} requests; embed the query in one request, and use the stored vectors")
        check_search(result, expected, 3, shown)
        shown = f"store.search({STORE_QUERY!r}) with the default k"
        check_search(store.call("search", STORE_QUERY, shown=shown), expected, 5, shown)  # search(query, k=5)
        store.close()

    @pytest.mark.lesson
    @pytest.mark.points(3)
    @pytest.mark.fresh_worker
    def test_a_reopened_store_in_a_new_process_embeds_nothing_it_holds(self, api, target, folder):
        """Reopened in a new process, the store embeds nothing it already holds — even if its process died"""
        store = self.filled(api, target, folder)  # noqa: F841 - kept open, never closed: its process is killed below
        mode = stat.S_IMODE(os.stat(folder / "notes.db").st_mode) if (folder / "notes.db").is_file() else None
        expect(
            mode is None or mode & 0o077 == 0,
            f"Right after its first add(), before close(), the store's file has mode {oct(mode or 0)}: other users could "
            "read it from then on. Create it owner-only before SQLite writes to it: os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)",
        )
        in_file = texts_in_the_file(folder / "notes.db", NOTES[:9])  # what add() committed, read here
        second = Store(api, target, folder / "notes.db")  # a second connection, while the first is open
        count = second.length("len(store) of a second VectorStore(path) opened while the first is open")
        if count != 9:
            shown = f"A second VectorStore on the same file, opened while the first was open, says len() is {count}; the first added 9"
            if not in_file:
                with contextlib.suppress(Exception, pytest.fail.Exception):  # failing anyway: does close() commit?
                    store.close()
                if texts_in_the_file(folder / "notes.db", NOTES[:9]):
                    fail(
                        f"{shown}, and its file holds none of them until close(): a process that dies before close() loses "
                        "everything it added. Commit in add() (with self.db: ...), not only in close()"
                    )
                path = folder / "notes.db"
                if not path.is_file() or not store_contents(path)["tables"]:
                    fail(
                        f"{shown}, and its file holds none of them, so nothing the store held survived: it keeps its texts in "
                        "memory only (the file at path holds no table). Keep each text and vector in an SQLite table in that file, "
                        "and commit in add()"
                    )
                fail(f"{shown}, and its file holds none of them, even after close(): nothing was ever committed. Call self.db.commit() in add() (or write inside with self.db: ...)")
            if len(in_file) < 9:
                fail(f"{shown}, and its file holds {len(in_file)} of them: commit every text add() embeds, in add()")
            fail(f"{shown}, but its file holds all 9: len() should count the rows of the table (SELECT COUNT(*)), not what one object added")
        second.close()
        kept = texts_in_the_file(folder / "notes.db", NOTES[:9])  # what survived, read before the new process runs
        target.fresh_worker()  # the first store's process is killed, never closed: only what add() committed survives
        again = Store(api, target, folder / "notes.db")
        first = len(api.sent)
        added = again.call("add", list(NOTES[:9]), shown="store.add(NOTES[:9]) after reopening the file")
        if added != 0 or api.sent[first:]:
            fail(reopened_sentence(added, [t for s in api.sent[first:] for t in s.texts], kept, NOTES[:9]))
        count = again.length("len(store) after reopening")
        expect(count == 9, f"Reopened in a new process, len(store) is {count}; the file holds 9 texts")
        vectors = stored_vectors(api)
        query = api.vectors([STORE_QUERY])[0]
        expected = sorted(((cosine_ref(query, vectors[t]), t) for t in NOTES[:9]), key=lambda pair: -pair[0])
        check_search(again.call("search", STORE_QUERY, 2, shown="store.search(...) after reopening"), expected, 2, "store.search(...) after reopening")
        again.close()

    @pytest.mark.points(1)
    def test_stores_text_model_and_float32_bytes_not_pickle(self, api, target, folder):
        """The file holds each text, the model, and the vector as float32 bytes (never pickle)"""
        store = self.filled(api, target, folder)
        store.close()
        found = store_contents(folder / "notes.db")  # read here: the learner's code cannot reach this sqlite3
        expect(not found["error"], f"The store's file could not be read as an SQLite database ({found['error']})")
        cells = [cell for table in found["tables"].values() for row in table["rows"] for cell in row]
        blobs = [c for c in cells if isinstance(c, bytes)]
        if any(b[:1] == b"\x80" and b[-1:] == b"." for b in blobs):
            fail(
                "The store's file holds pickled vectors: pickle runs code when it loads, so a store anyone could "
                "write becomes a program. Store vector.astype('<f4').tobytes() and read it with np.frombuffer"
            )
        texts = {c for c in cells if isinstance(c, str)}
        missing = [t for t in NOTES[:9] if t not in texts]
        expect(not missing, f"The store's file does not hold the text {missing[0]!r} itself: keep each text beside its vector" if missing else "")
        expect(api.model in texts, f"The store's file never names the model {api.model!r}: keep the model beside each vector")
        vectors = stored_vectors(api)
        floats = [np.frombuffer(b, dtype="<f4") for b in blobs if len(b) % 4 == 0]
        unmatched = [t for t, v in vectors.items() if not any(len(f) == len(v) and np.allclose(f, v, atol=1e-6) for f in floats)]
        expect(
            not unmatched,
            f"The store's file holds no float32 bytes of the vector of {unmatched[0]!r}: store each vector as "
            "vector.astype('<f4').tobytes()" if unmatched else "",
        )

    @pytest.mark.points(1)
    def test_the_file_it_creates_is_readable_by_its_owner_only(self, api, target, folder):
        """The file it creates can be read and written by its owner only (mode 0o600)"""
        store = self.filled(api, target, folder)
        store.close()
        expect((folder / "notes.db").is_file(), "VectorStore(path) wrote no file at path: a store lives in an SQLite file there")
        mode = stat.S_IMODE(os.stat(folder / "notes.db").st_mode)
        expect(
            mode & 0o077 == 0,
            f"The store's file has mode {oct(mode)}: other users of the machine can read the vectors (they leak "
            "what the texts say). Create it owner-only first: os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)",
        )

    @pytest.mark.points(1)
    def test_another_model_is_refused_naming_both(self, api, target, folder):
        """Opened with another model than the one it holds, it raises ValueError naming both"""
        store = self.filled(api, target, folder)
        store.close()
        other = "text-embedding-other-model"
        make = target.function("applications", "VectorStore", objects=True)
        shown = f"VectorStore(path, model={other!r}) on a file holding {api.model!r} vectors"
        err = raises(
            ValueError,
            lambda: make(str(folder / "notes.db"), client=api.client, model=other),
            shown=shown,
            why="vectors of two models cannot be compared with each other",
        )
        message = str(err)
        expect(
            api.model in message and other in message,
            f"{shown} raised ValueError({message!r}); name both models in it, {api.model!r} and {other!r}",
        )

    @pytest.mark.points(1)
    def test_searching_an_empty_store_raises_value_error(self, api, target, folder):
        """search() on an empty store raises ValueError"""
        store = Store(api, target, folder / "empty.db")
        method = store.obj.method("search")
        raises(ValueError, method, STORE_QUERY, 3, shown=f"store.search({STORE_QUERY!r}) on an empty store", why="there is nothing to rank")

    @pytest.mark.synthetic
    @pytest.mark.points(1)
    def test_equal_scores_keep_the_order_texts_were_added(self, target, folder, synthetic_api):
        """Equal scores come in the order the texts were added; with works"""
        texts = ["b: second letter", "c: third letter", "a: first letter"]

        def all_alike(request: httpx2.Request) -> httpx2.Response:
            # Synthetic: every text gets the same vector, so every score ties.
            body = json.loads(request.content)
            inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
            items = [{"object": "embedding", "index": i, "embedding": [1.0, 0.0, 0.0]} for i in range(len(inputs))]
            usage = {"prompt_tokens": len(inputs), "total_tokens": len(inputs)}
            return httpx2.Response(200, json={"object": "list", "data": items, "model": body["model"], "usage": usage})

        api = synthetic_api(all_alike)
        store = Store(api, target, folder / "ties.db")
        entered = store.call("__enter__", shown="with VectorStore(path) as store")
        expect(
            isinstance(entered, RemoteObject) and entered.number == store.obj.number,
            f"with VectorStore(path) as store gave {brief(entered)}; __enter__ should return the store itself",
        )
        store.call("add", texts, shown=f"store.add({texts})")
        result = store.call("search", "any query", 3, shown="store.search('any query', k=3)")
        order = [item[1] for item in result] if isinstance(result, list) and all(isinstance(i, (tuple, list)) and len(i) == 2 for i in result) else result
        expect(
            order == texts,
            f"With all scores equal, store.search() returned {brief(order)}; keep the order the texts were added: "
            f"{texts} (ORDER BY the row id, and a stable sort on the score alone)",
        )
        store.call("__exit__", None, None, None, shown="leaving the with block")
        try:
            still = store.obj.method("__len__")()
        except Exception:  # noqa: BLE001 - closed, as it should be: its connection refuses
            still = None
        expect(
            still is None,
            f"After leaving the with block, len(store) still answered {brief(still)}: __exit__ should close the store (self.close())",
        )

    @pytest.mark.synthetic
    @pytest.mark.points(1)
    def test_uses_the_configured_client_and_model_by_default(self, target, folder, synthetic_api):
        """With no client or model, uses the configured client and EMBED_MODEL (client_and_model)"""
        api = synthetic_api(Synthetic())
        make = target.function("applications", "VectorStore", objects=True)
        store = attempt(make.using_defaults(client=api.client, model=api.model), str(folder / "defaults.db"))
        expect(isinstance(store, RemoteObject), f"VectorStore(path) returned {brief(store)}; it should make a VectorStore")
        use(api, store.method("add"), ["The cat sat on the mat."], shown="store.add(['The cat sat on the mat.'])")
        expect_defaults_used(api, "VectorStore(path) then store.add([...])")


# -- near_duplicates -------------------------------------------------------------------------------


def pairs_ref(vectors, threshold: float) -> list[tuple[int, int, float]]:
    unit = unit_rows(vectors)
    found = [(i, j, float(unit[i] @ unit[j])) for i, j in itertools.combinations(range(len(unit)), 2)]
    return sorted((p for p in found if p[2] >= threshold), key=lambda p: (-p[2], p[0], p[1]))


def check_pairs(result, expected: list[tuple[int, int, float]], texts: list, shown: str, tolerance: float = 1e-4, order: bool = False) -> None:
    expect(isinstance(result, list), f"{shown} returned {brief(result)}; return a list of (i, j, score) tuples")
    for item in result:
        expect(isinstance(item, (tuple, list)) and len(item) == 3, f"{shown} returned the item {brief(item)}; each is an (i, j, score) tuple")
        i, j, score = item
        expect(is_int(i) and is_int(j), f"{shown} returned ({brief(i)}, {brief(j)}, …); i and j are plain ints (int(...))")
        expect(isinstance(score, float), f"{shown} gave the score {brief(score)}; a score is a float")
        if i == j:
            fail(f"{shown} paired text {i} with itself; a text is never its own near-duplicate: only pairs i < j")
    got = [(item[0], item[1]) for item in result]
    if any((j, i) in got for i, j in got if i < j):
        i, j = next((i, j) for i, j in got if i < j and (j, i) in got)
        fail(f"{shown} gave the pair ({i}, {j}) twice, also as ({j}, {i}): give each pair once, with i < j")
    backwards = [(i, j) for i, j in got if i > j]
    expect(not backwards, f"{shown} gave the pair {backwards[0]}; write each pair with the smaller index first, i < j" if backwards else "")
    want = {(i, j): s for i, j, s in expected}
    extra = [p for p in got if p not in want]
    if extra:
        i, j = extra[0]
        fail(f"{shown} returned the pair ({i}, {j}), which scores {pair_score(texts, i, j)} — not at least the threshold")
    missing = [p for p in want if p not in got]
    expect(not missing, f"{shown} missed the pair {missing[0]} ({brief(texts[missing[0][0]])} and {brief(texts[missing[0][1]])}), which scores {want[missing[0]]:.4f}" if missing else "")
    for i, j, score in result:
        expect(abs(score - want[(i, j)]) <= tolerance, f"{shown} scored the pair ({i}, {j}) {score:.4f}; its cosine is {want[(i, j)]:.4f}")
    scores = [item[2] for item in result]
    unsorted = not_highest_first(shown, scores, slack=1e-9)
    if unsorted:
        fail(unsorted)
    if order:
        expect(
            got == [(i, j) for i, j, _ in expected],
            f"{shown} returned the pairs in the order {got}; equal scores go by (i, j): {[(i, j) for i, j, _ in expected]}",
        )


_scores_shown: dict = {}


def pair_score(texts, i, j) -> str:
    return _scores_shown.get((tuple(map(str, texts)), i, j), "less")


def note_scores(texts, vectors) -> None:
    unit = unit_rows(vectors)
    for i, j in itertools.combinations(range(len(unit)), 2):
        _scores_shown[(tuple(map(str, texts)), i, j)] = f"{float(unit[i] @ unit[j]):.4f}"


def check_corpus_pairs(vectors) -> None:
    unit = unit_rows(vectors)
    for i, j in itertools.combinations(range(len(NOTES)), 2):
        score = float(unit[i] @ unit[j])
        planted = (i, j) in PLANTED
        expect(
            (score >= LOW + MARGIN) if planted else (score <= LOW - MARGIN),
            f"The recorded model scores NOTES {i} and {j} {score:.3f}, against this test's claim: this cassette set "
            "cannot grade near_duplicates — tell your instructor",
        )


@pytest.mark.exercise("near_duplicates")
class TestNearDuplicates:
    @pytest.fixture
    def near_duplicates(self, target):
        return target.function("applications", "near_duplicates")

    @pytest.mark.lesson
    @pytest.mark.points(2)
    def test_finds_the_planted_pairs_and_nothing_else(self, near_duplicates, api):
        """Finds the planted paraphrases and the exact duplicate, each pair once, never a text with itself"""
        vectors = api.vectors(NOTES)
        check_corpus_pairs(vectors)
        note_scores(NOTES, vectors)
        given = list(NOTES)
        shown = f"near_duplicates(NOTES, threshold={LOW})"
        result = api.call(near_duplicates, watch(given), LOW, hint=DUPLICATES_HINT)
        api.expect_explained(NOTES, shown)
        check_pairs(result, pairs_ref(vectors, LOW), NOTES, shown)
        expect(given == NOTES, f"{shown} changed the list of texts it was given; leave it as it was")

    @pytest.mark.points(1)
    def test_the_default_threshold_is_0_9(self, near_duplicates, api):
        """With the default threshold, 0.9, only the closest pairs"""
        vectors = api.vectors(NOTES)
        note_scores(NOTES, vectors)
        expected = pairs_ref(vectors, 0.9)
        expect(
            sorted((i, j) for i, j, _ in expected) == CLOSE,
            "The recorded model does not put exactly the pairs "
            f"{CLOSE} above 0.9 ({expected}): this cassette set cannot grade near_duplicates — tell your instructor",
        )
        result = api.call(near_duplicates, NOTES, hint=DUPLICATES_HINT)
        check_pairs(result, expected, NOTES, "near_duplicates(NOTES)")

    @pytest.mark.points(1)
    def test_embeds_the_texts_in_one_request(self, near_duplicates, api):
        """Embeds all the texts in one request; fewer than two texts give []"""
        api.vectors(NOTES)
        for text in NOTES:  # a request per text is recorded, so it is counted rather than refused
            api.vectors([text])
        api.vectors(NOTES[:1])
        api.call(near_duplicates, NOTES, LOW, hint=DUPLICATES_HINT)
        expect(api.sent, "near_duplicates(NOTES) sent no request through the `client` it was given")
        expect(len(api.sent) == 1, f"near_duplicates(NOTES) made {len(api.sent)} requests; embed all the texts in one request")
        for texts in ([], NOTES[:1]):
            result = api.call(near_duplicates, texts, LOW)
            expect(result == [], f"near_duplicates({texts}) returned {brief(result)}; with fewer than two texts there is no pair: []")

    @pytest.mark.synthetic
    @pytest.mark.points(1)
    def test_a_pair_exactly_at_the_threshold_counts(self, near_duplicates, synthetic_api):
        """A pair whose score is exactly the threshold counts (at least, not above); ties go by (i, j)"""
        texts = ["east", "north", "east again", "up", "north again", "east once more"]
        axes = {"east": 0, "north": 1, "up": 2}
        api = synthetic_api(exact_vectors(lambda text: axes[text.split()[0]]))
        result = api.call(near_duplicates, texts, 1.0)
        expected = [(0, 2, 1.0), (0, 5, 1.0), (1, 4, 1.0), (2, 5, 1.0)]
        shown = f"near_duplicates({texts}, threshold=1.0)"
        if isinstance(result, list) and result == []:
            fail(
                f"{shown} returned []; texts 0, 2 and 5 have the same vector, so their pairs score exactly 1.0, which "
                "is at least the threshold: keep scores >= threshold, not > threshold"
            )
        check_pairs(result, expected, texts, shown, tolerance=1e-6, order=True)

    @pytest.mark.lesson
    @pytest.mark.synthetic
    @pytest.mark.points(2)
    def test_one_matrix_product_not_a_double_loop(self, near_duplicates, target, synthetic_api):
        """200 texts: all pairs from one matrix product, not a double Python loop"""
        # A new set of 200 texts for every look: an answer remembered from an earlier call gains nothing.
        looks = [[f"note number {i}: {'lorem ipsum dolor sit amet'[i % 20:]} {n}" for i in range(200)] for n in range(3)]
        texts = looks[0]
        server = Synthetic()
        api = synthetic_api(server)
        own = synthetic_api(server)  # the reference's own client: its requests stay out of api.sent
        reference = grader(target, "near_duplicates_reference")
        vectors = own.vectors(texts)
        expected = in_the_worker.pairs_above(vectors, 0.5)  # worked out here, not in the worker
        # Ten times: in the worker the same work also reads the answer into the openai client's objects.
        cap = cap_for(10.0, in_the_worker.pairs_above, vectors, 0.5)

        def reference_time(some) -> float:
            """Its CPU time in the worker (the request costs the worker none: it waits), capped."""
            return capped(lambda: cpu(target, reference, some, 0.5, client=own.client, model=own.model), cap)

        base = min(reference_time(some) for some in looks)
        shown = "near_duplicates(200 texts, threshold=0.5)"
        result, took = target.cpu_of(lambda: api.call(near_duplicates, texts, 0.5))
        for again in looks[1:]:  # again while it looks slow (CPU time, not a clock a neighbour moves)
            if not too_slow(took, base, DUPLICATES_SLOWER):
                break
            took = min(took, target.cpu_of(lambda t=again: api.call(near_duplicates, t, 0.5))[1])
        expect(
            not too_slow(took, base, DUPLICATES_SLOWER),
            f"{shown} took {took * 1000:.0f} ms of CPU, {took / base:.0f} times as much as one "
            f"matrix product ({base * 1000:.0f} ms): a double loop of cosine() calls scores "
            "19,900 pairs one by one. Make the rows unit length; unit @ unit.T scores them all at once",
        )
        check_pairs(result, expected, texts, shown, tolerance=1e-5)

    @pytest.mark.synthetic
    @pytest.mark.points(1)
    def test_uses_the_configured_client_and_model_by_default(self, near_duplicates, synthetic_api):
        """With no client or model, uses the configured client and EMBED_MODEL (client_and_model)"""
        api = synthetic_api(Synthetic())
        attempt(near_duplicates.using_defaults(client=api.client, model=api.model), NOTES[:3])
        expect_defaults_used(api, "near_duplicates(NOTES[:3])")


def exact_vectors(axis_of):
    """Synthetic: each text a unit vector along one axis, so every cosine is exactly 0 or 1."""

    def answer(request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        items = []
        for i, text in enumerate(inputs):
            vector = [0.0, 0.0, 0.0]
            vector[axis_of(text)] = 1.0
            items.append({"object": "embedding", "index": i, "embedding": vector})
        usage = {"prompt_tokens": len(inputs), "total_tokens": len(inputs)}
        return httpx2.Response(200, json={"object": "list", "data": items, "model": body["model"], "usage": usage})

    answer.model = f"synthetic-exact-{os.getpid()}"
    return answer


# -- classify --------------------------------------------------------------------------------------


def flat(examples: dict) -> tuple[list[str], list[str]]:
    labels = [label for label, texts in examples.items() for _ in texts]
    return labels, [t for texts in examples.values() for t in texts]


def record_classify(api, text: str, examples: dict) -> tuple[np.ndarray, np.ndarray]:
    """The vectors of the text and the examples, from one request (text first or last)."""
    _, texts = flat(examples)
    both = api.vectors([text, *texts])
    api.vectors([*texts, text])
    api.vectors(texts)
    api.vectors([text])
    return both[0], both[1:]


def wrong_ways(text: str, examples: dict, query, rows) -> dict[str, str]:
    """What the usual wrong answers would say, each with the sentence naming it."""
    labels, texts = flat(examples)
    unit = unit_rows(rows)
    q = query / np.linalg.norm(query)
    scores = unit @ q
    order = np.argsort(-scores, kind="stable")
    three = [labels[i] for i in order[:3]]
    centroid = {label: cosine_ref(q, unit[[i for i, lab in enumerate(labels) if lab == label]].mean(axis=0)) for label in examples}
    words = lambda s: set(re.findall(r"[a-z']+", s.lower()))  # noqa: E731
    overlap = {label: max(len(words(text) & words(t)) for t in ts) for label, ts in examples.items()}
    return {
        "most examples": max(examples, key=lambda label: len(examples[label])),
        "three nearest": max(dict.fromkeys(three), key=three.count),
        "centroid": max(centroid, key=centroid.get),
        "keywords": max(overlap, key=overlap.get),
    }


WRONG_SENTENCES = {
    "most examples": "the label with the most examples",
    "three nearest": "the most common label among the three nearest examples (a majority vote)",
    "centroid": "the label whose examples are closest on average (their centroid)",
    "keywords": "the label whose example shares the most words with the text",
}


@pytest.mark.exercise("classify")
class TestClassify:
    @pytest.fixture
    def classify(self, target):
        return target.function("applications", "classify")

    @pytest.mark.lesson
    @pytest.mark.points(3)
    def test_the_nearest_example_wins(self, classify, api):
        """The label of the single nearest example wins: not a majority, not a centroid, not shared words"""
        for text, examples, label in CASES:
            query, rows = record_classify(api, text, examples)
            labels, texts = flat(examples)
            scores = [cosine_ref(query, row) for row in rows]
            best = int(np.argmax(scores))
            runner_up = max(s for s, lab in zip(scores, labels) if lab != labels[best])
            expect(
                labels[best] == label and scores[best] - runner_up >= MARGIN,
                f"The recorded model does not put a {label!r} example nearest {text!r} by {MARGIN}: this cassette "
                "set cannot grade classify — tell your instructor",
            )
            given = {k: list(v) for k, v in examples.items()}
            shown = f"classify({text!r}, examples)"
            result = api.call(classify, text, watch(given), hint=CLASSIFY_HINT)
            expect(given == examples, f"{shown} changed the examples it was given; leave them as they were")
            api.expect_explained([text, texts[best]], shown)
            if result != label:
                wrong = [why for why, answer in wrong_ways(text, examples, query, rows).items() if answer == result]
                if wrong:  # the ways may agree on this corpus: name every one that gives this answer
                    fail(
                        f"{shown} returned {brief(result)}: that is {', and also '.join(WRONG_SENTENCES[w] for w in wrong)}. "
                        f"The nearest single example is {texts[best]!r} ({scores[best]:.3f}), labelled {label!r}: return its label"
                    )
                fail(f"{shown} returned {brief(result)}; the nearest example is {texts[best]!r} ({scores[best]:.3f}), labelled {label!r}")

    @pytest.mark.points(1)
    def test_the_text_and_examples_in_one_request(self, classify, api):
        """Embeds the text and all the examples in one request"""
        record_classify(api, TICKET, TICKET_EXAMPLES)
        api.call(classify, TICKET, TICKET_EXAMPLES, hint=CLASSIFY_HINT)
        expect(api.sent, "classify() sent no request through the `client` it was given")
        expect(
            len(api.sent) == 1,
            f"classify(TICKET, examples) made {len(api.sent)} requests; embed the text and all the examples in one request",
        )

    @pytest.mark.points(1)
    def test_no_examples_raise_value_error(self, classify, api):
        """No examples, or a label without any, raise ValueError"""
        for examples, why in (({}, "there is no label to choose"), ({"bugs": ["The export button does nothing."], "features": []}, "a label with no example can never be nearest")):
            raises(
                ValueError,
                lambda: classify(TICKET, examples, client=api.client, model=api.model),
                shown=f"classify(TICKET, {examples})",
                why=why,
            )

    @pytest.mark.synthetic
    @pytest.mark.points(1)
    def test_equal_scores_go_to_the_label_listed_first(self, classify, synthetic_api):
        """Equal scores: the label listed first wins"""
        axes = {"query": 0, "alpha": 0, "beta": 0, "gamma": 1}
        api = synthetic_api(exact_vectors(lambda text: axes[text.split()[0]]))
        examples = {"second": ["gamma ray"], "zeta": ["beta one"], "first": ["alpha one"]}
        result = api.call(classify, "query text", examples)
        expect(
            result == "zeta",
            f"classify('query text', {examples}) returned {brief(result)}; 'beta one' and 'alpha one' both score 1.0, "
            "and equal scores go to the label listed first: 'zeta' (keep the first best, compare with >)",
        )

    @pytest.mark.synthetic
    @pytest.mark.points(1)
    def test_uses_the_configured_client_and_model_by_default(self, classify, synthetic_api):
        """With no client or model, uses the configured client and EMBED_MODEL (client_and_model)"""
        api = synthetic_api(Synthetic())
        attempt(classify.using_defaults(client=api.client, model=api.model), TICKET, TICKET_EXAMPLES)
        expect_defaults_used(api, "classify(TICKET, examples)")


# -- generated inputs (tests/generated.py) ------------------------------------------------------


@pytest.mark.exercise("top_k")
class TestTopKGenerated:
    @pytest.mark.points(1)
    def test_agrees_with_the_reference_on_generated_matrices(self, target):
        """Ties everywhere and at the k-th place, k above n, zero rows, float16 to float64, lists; arguments unchanged"""
        top_k = target.function("applications", "top_k")
        try:
            top_k([1.0, 0.0], [[1.0, 0.0]], 1)
        except NotImplementedError as err:
            raise NotStarted(str(err)) from None
        except BaseException:  # noqa: BLE001
            pass

        @budget(60)
        @given(top_k_cases())
        def check(case):
            query, matrix, k = case
            shown = f"top_k({shown_vector(query)}, {shown_vector(matrix) if isinstance(matrix, np.ndarray) else matrix}, k={k})"
            want, why = top_k_expected(query, matrix, k)
            if want is None:
                raises(ValueError, lambda: top_k(query, matrix, k), shown=shown, why=why)
                return
            exact = top_k_scores(query, matrix)
            query_before = np.array(query, dtype=np.float64)
            matrix_before = np.array(matrix, dtype=np.float64)
            q_given, m_given = (query.copy(), matrix.copy()) if isinstance(query, np.ndarray) else (list(query), [list(r) for r in matrix])
            got = top_k(watch(q_given), watch(m_given), k)
            expect(
                np.array_equal(np.asarray(q_given, dtype=np.float64), query_before) and np.array_equal(np.asarray(m_given, dtype=np.float64), matrix_before),
                f"{shown} changed its arguments in place (normalised them?); work on copies and leave the query and the rows as they were",
            )
            expect(isinstance(got, list) and len(got) == len(want), f"{shown} returned {brief(got)}; expected {len(want)} (row, score) pairs: {want}")
            for place, (item, (index, score)) in enumerate(zip(got, want)):
                expect(isinstance(item, (tuple, list)) and len(item) == 2, f"{shown} returned the item {brief(item)}; each is (row index, score)")
                expect(type(item[0]) is int and is_plain_float(item[1]), f"{shown} returned {brief(item)}; a plain int and a plain float: int(i), float(s)")
                if item[0] != index and not (exact.get(item[0]) is not None and abs(exact[item[0]] - score) <= 1e-9 and exact[item[0]] != score):
                    fail(
                        f"{shown} put row {item[0]} at place {place + 1}; expected row {index} (cosine {score:.6f}). "
                        f"Expected {[(i, round(s, 4)) for i, s in want]}: highest cosine first, equal scores by the lower row "
                        "index — also the rows tied with the k-th (a stable sort: np.argsort(-scores, kind='stable'))"
                    )
                expect(
                    close(item[1], score, 1e-4),
                    f"{shown} scored row {index} {item[1]!r}; its cosine is {score!r} — compute in float64, dividing by both lengths",
                )

        run(check)


# -- near_duplicates ---------------------------------------------------------------------------------


@pytest.mark.exercise("near_duplicates")
class TestNearDuplicatesGenerated:
    @pytest.mark.synthetic
    @pytest.mark.points(1)
    def test_agrees_with_the_reference_on_generated_texts(self, target, synthetic_api):
        """Repeated texts, ties, thresholds a hair above and below a pair's score"""
        near = target.function("applications", "near_duplicates")
        server = Generated()
        api = synthetic_api(server)
        api.call(near, ["cat one", "cat two"], 0.5)

        @budget(40)
        @given(st.lists(texts_st, min_size=0, max_size=8), st.data())
        def check(texts, data):
            vectors = server.vectors(texts)
            pairs = {(i, j): cosine_exact(vectors[i], vectors[j]) for i in range(len(texts)) for j in range(i + 1, len(texts))}
            # a hair (3e-6) above and below each score: past float32's rounding, within np.isclose's 1e-5
            choices = [0.9, 0.5, -1.0, 1.0 - 1e-7] + [s + d for s in pairs.values() for d in (3e-6, -3e-6)]
            threshold = data.draw(st.sampled_from(choices), label="threshold")
            want = sorted(((i, j, s) for (i, j), s in pairs.items() if s >= threshold), key=lambda p: (-p[2], p[0], p[1]))
            shown = f"near_duplicates({texts}, threshold={threshold!r})"
            got = api.call(near, list(texts), threshold)
            expect(isinstance(got, list), f"{shown} returned {brief(got)}; a list of (i, j, score)")
            got_pairs = [(p[0], p[1]) for p in got if isinstance(p, (tuple, list)) and len(p) == 3]
            expect(len(got_pairs) == len(got), f"{shown} returned {brief(got)}; each item is (i, j, score)")
            twice = [p for p in got_pairs if got_pairs.count(p) > 1]
            expect(not twice, f"{shown} returned the pair {twice[0] if twice else ''} twice; each pair once")
            missing = [(i, j) for i, j, _ in want if (i, j) not in got_pairs]
            extra = [p for p in got_pairs if p not in {(i, j) for i, j, _ in want}]
            if extra:
                i, j = extra[0]
                score = pairs.get((i, j))
                fail(
                    f"{shown} returned the pair {extra[0]}"
                    + (f", whose cosine {score!r} is below the threshold: at least the threshold means score >= threshold, exactly (not np.isclose)" if score is not None else ": each pair once, i < j, never a text with itself")
                )
            if missing:
                i, j = missing[0]
                fail(f"{shown} left out the pair {(i, j)} (cosine {pairs[(i, j)]!r}, at least the threshold): every pair i < j, equal texts too")
            same = lambda a, b: all_axes(texts[a[0]], texts[a[1]], texts[b[0]], texts[b[1]])  # noqa: E731 - cosines exactly 0 or 1
            broken = out_of_order(got_pairs, pairs.get, lambda a, b: a < b, same)
            expect(
                broken is None,
                f"{shown} returned the pairs in the order {got_pairs}; highest score first, equal scores by (i, j): {[(i, j) for i, j, _ in want]}",
            )
            for item in got:
                i, j = item[0], item[1]
                expect(close(item[2], pairs[(i, j)], 1e-5), f"{shown} scored ({i}, {j}) {item[2]!r}; its cosine is {pairs[(i, j)]!r} (these vectors are not of length 1)")

        run(check)


# -- classify ----------------------------------------------------------------------------------------


@pytest.mark.exercise("classify")
class TestClassifyGenerated:
    @pytest.mark.synthetic
    @pytest.mark.points(1)
    def test_the_nearest_example_wins_on_generated_examples(self, target, synthetic_api):
        """One text under two labels, ties to the label listed first, vectors not of length 1"""
        classify = target.function("applications", "classify")
        server = Generated()
        api = synthetic_api(server)
        api.call(classify, "cat one", {"a": ["cat two"]})

        @budget(40)
        @given(texts_st, examples_st())
        def check(text, examples):
            q = server.array(text)
            scored = [(cosine_exact(q, server.array(e)), label, e) for label, texts in examples.items() for e in texts]
            best = max(s for s, _, _ in scored)
            near = [(label, e) for s, label, e in scored if s >= best - 1e-9]
            best_label = near[0][0]  # the first listed of the best
            allowed = {best_label} if exactly_tied(*(e for _, e in near)) else {label for label, _ in near}
            shown = f"classify({text!r}, {examples})"
            got = api.call(classify, text, {k: list(v) for k, v in examples.items()})
            expect(type(got) is str or got not in allowed, f"{shown} returned {brief(got)}, {a_or_an(type(got).__name__)}; return the label itself, a plain str: str(label)")
            if got not in allowed:
                rows = np.array([server.array(e) for texts in examples.values() for e in texts])
                wrong = [WRONG_SENTENCES[w] for w, answer in wrong_ways(text, examples, q, rows).items() if answer == got]
                named = f": that is what {', and also '.join(wrong)} gives" if wrong else ""
                fail(
                    f"{shown} returned {brief(got)}{named}; the single nearest example by cosine (not by dot product: these "
                    f"vectors are not of length 1) scores {best:.6f} and is labelled {best_label!r}; equal scores go to the label listed first"
                )

        run(check)


# -- VectorStore.search ------------------------------------------------------------------------------


@pytest.mark.exercise("vector_store")
class TestVectorStoreGenerated:
    @pytest.fixture
    def folder(self, target):
        return target.scratch_folder("store")

    @pytest.mark.synthetic
    @pytest.mark.points(1)
    def test_search_ranks_by_cosine_on_generated_texts(self, target, folder, synthetic_api):
        """Stored vectors not of length 1: the cosine ranks them, not the dot product; k above n"""
        make = target.function("applications", "VectorStore", objects=True)
        server = Generated()
        api = synthetic_api(server)
        counter = iter(range(10_000))
        try:
            make(str(folder / "probe.db"), client=api.client, model=api.model)
        except NotImplementedError as err:
            raise NotStarted(str(err)) from None
        except BaseException:  # noqa: BLE001 - judged below
            pass

        @budget(12)
        @given(st.lists(texts_st, min_size=1, max_size=8, unique=True), texts_st, st.integers(1, 10))
        def check(texts, query, k):
            path = folder / f"generated-{next(counter)}.db"
            store = make(str(path), client=api.client, model=api.model)
            expect(isinstance(store, RemoteObject), f"VectorStore(path) returned {brief(store)}; it should make a VectorStore")
            try:
                before = len(api.sent)
                none = use(api, store.method("add"), [], shown="store.add([])")
                expect(
                    none == 0 and type(none) is int and len(api.sent) == before,
                    f"store.add([]) returned {brief(none)} after {len(api.sent) - before} request(s); nothing to embed: return 0, no request",
                )
                use(api, store.method("add"), list(texts), shown=f"store.add({texts})")
                got = use(api, store.method("search"), query, k, shown=f"store.search({query!r}, {k})")
            finally:
                try:
                    store.method("close")()
                except Exception:  # noqa: BLE001 - its close() is judged elsewhere
                    pass
            q = server.array(query)
            scores = [cosine_exact(q, server.array(t)) for t in texts]
            order = sorted(range(len(texts)), key=lambda i: (-scores[i], i))[:k]
            want = [(scores[i], texts[i]) for i in order]
            shown = f"store.search({query!r}, k={k}) after store.add({texts})"
            expect(isinstance(got, list) and len(got) == len(want), f"{shown} returned {brief(got)}; expected {len(want)} (score, text) pairs")
            sentence = (
                f"{shown} gave {brief(got)}; expected {[(round(s, 6), t) for s, t in want]}. Rank by cosine — the stored vectors "
                "are not of length 1, so a dot product is not one — highest first, equal scores in the order added"
            )
            expect(all(isinstance(i, (tuple, list)) and len(i) == 2 and i[1] in texts for i in got), sentence)
            places = [texts.index(i[1]) for i in got]
            cut = scores[order[-1]]
            expect(all(scores[p] >= cut - 1e-9 for p in places) and len(set(places)) == len(places), sentence)
            expect(all(close(i[0], scores[p], 1e-5) for i, p in zip(got, places)), sentence)
            expect(out_of_order(places, lambda i: scores[i], lambda a, b: a < b, lambda a, b: exactly_tied(texts[a], texts[b])) is None, sentence)
            tied_at_cut = [i for i in range(len(texts)) if abs(scores[i] - cut) <= 1e-9]
            if exactly_tied(*(texts[i] for i in tied_at_cut)):  # rows tied with the k-th: the first added come along
                expect(all(i in places for i in order), sentence)

        run(check)

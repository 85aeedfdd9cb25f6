"""Exercise 4 — beyond the section, in exercises/applications.py: top_k(), the most similar rows of a matrix.

The texts these tests embed are in tests/applications.py, where you can read them: recorded from a
real server (cassettes/), each claim the tests make about them checked on the recorded vectors first.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import (  # noqa: F401 - the generated-input checks below
    assume,
    given,
    strategies as st,  # noqa: F401
)

from embedlab.testing import NotStarted, a_or_an, attempt, brief, expect, fail, watch
from tests import in_the_worker
from tests.applications import (  # the corpus and helpers the applications' tests share
    BIG,
    NOTES,
    SLOWER,
    STORE_QUERY,
    THIN,
    big_case,
    cap_for,
    capped,
    cpu,
    grader,
    in_worker,
    is_float,
    is_int,
    not_highest_first,
    too_slow,
)
from tests.generated import (
    budget,
    close,
    is_plain_float,
    run,
    shown_vector,
    top_k_cases,
    top_k_expected,
    top_k_scores,
)
from tests.reference import cosine_ref, raises, seeded_best_rows, seeded_query

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

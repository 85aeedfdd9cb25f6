"""The reference top_k's matrix of queries (what benchmarks/bench_search.py compares with FAISS) gives
exactly what one call per query gives, and the benchmark itself still runs and prints its ratios.

The grading tests judge the learner's one-query top_k; the batched form is the reference's own.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from solutions.applications import top_k

from .conftest import ROOT, clean_env


@pytest.mark.parametrize("dtype", [np.float32, np.float64, None])
def test_a_matrix_of_queries_answers_as_one_call_per_query(dtype):
    draw = np.random.default_rng(7)
    matrix = draw.standard_normal((500, 16)) * draw.uniform(0.1, 5, (500, 1))  # rows of any length
    matrix[40] = matrix[3] * 2  # a tie, settled by the lower index
    queries = draw.standard_normal((6, 16))
    queries[2] = matrix[3]
    given = matrix.tolist() if dtype is None else matrix.astype(dtype)
    before = np.array(given, copy=True)
    batched = top_k(queries, given, k=7)
    same_as_one_by_one(batched, [top_k(query, given, k=7) for query in queries])
    assert [i for i, _ in batched[2][:2]] == [3, 40]  # equal scores: the lower index first
    assert np.array_equal(np.asarray(given), before)  # arguments unchanged
    every = top_k(queries[:1], given, k=600)  # k > n: every row
    assert len(every[0]) == 500
    same_as_one_by_one(every, [top_k(queries[0], given, k=600)])


def same_as_one_by_one(batched, single):
    """The same rows in the same order, scores alike but for the last bits (a matrix product and a
    matrix-vector product add up in another order)."""
    assert len(batched) == len(single)
    for many, one in zip(batched, single):
        assert [i for i, _ in many] == [i for i, _ in one]
        assert np.allclose([s for _, s in many], [s for _, s in one], rtol=0, atol=1e-6)
        assert all(type(i) is int and type(s) is float for i, s in many)


@pytest.mark.parametrize(
    "queries, why",
    [
        (np.zeros((2, 4)), "zero query"),
        (np.ones((2, 3)), "3 numbers"),
        (np.ones((2, 2, 4)), "flat"),
        (np.ones((0, 4)), "flat"),
    ],
)
def test_a_bad_matrix_of_queries_is_refused(queries, why):
    with pytest.raises(ValueError, match=why):
        top_k(queries, np.ones((5, 4)), k=2)


def test_the_search_benchmark_prints_its_ratios():
    pytest.importorskip("faiss")
    pytest.importorskip("hnswlib")
    done = subprocess.run(
        [sys.executable, "benchmarks/bench_search.py", "--sizes", "3000", "--repeat", "1"],
        cwd=ROOT, env=clean_env(), capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    for row in ("reference top_k / FAISS, 1 query", "reference top_k / FAISS, 100 queries in one call", "HNSW recall@10"):
        assert row in done.stdout, done.stdout

"""Scaling up, measured: brute-force search with the reference top_k against FAISS and an HNSW index.

The section's "Scaling up" says a `for` loop is fine for four documents while four million need an
index. This prints, side by side in one run, for float32 unit vectors of 384 dimensions (the
MiniLM size), top 10:

  - the reference `top_k` (solutions/applications.py, run in the grader's worker process as it
    is graded) against FAISS's exact `IndexFlatIP`, for 100,000 and 1,000,000 vectors, one query
    and 100 queries (in one call, a matrix of queries as FAISS takes them, and in 100 calls of
    one query as the contract has them); beside them numpy doing `IndexFlatIP`'s work (`Q @ X.T`,
    then `argpartition` per query, no lengths), and numpy reading the matrix once for one query
    (lengths and dot products slice by slice, the second look at each slice from the cache);
  - an approximate index (hnswlib's HNSW, M=16, ef_construction=64, ef=64) at 100,000 vectors:
    its build time, its query time, and its recall@10 against exact search;
  - the memory-bandwidth floor for one query: the matrix's bytes over the copy bandwidth measured
    here (one query must read every row once), and how close each brute-force row comes to it.

Each figure is the median of `--repeat` runs after a warm-up (three times as many for one query),
the ways of a size measured in turns. Everything runs on one thread (OpenBLAS under numpy, in
this process and in the worker; FAISS's and hnswlib's OpenMP): FAISS searches one query on one
thread whatever it is allowed, and equal threads keep the rest like for like;
OPENBLAS_NUM_THREADS=N in the environment sets another count for all of them.
Needs the `[scale]` extra (`pip install -e ".[scale]"`: faiss-cpu, hnswlib).

    python benchmarks/bench_search.py [--sizes 100000 1000000] [--repeat 5] [--markdown]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

THREADS = int(os.environ.setdefault("OPENBLAS_NUM_THREADS", "1"))  # before numpy starts its pool;
os.environ.setdefault("OMP_NUM_THREADS", str(THREADS))  # the worker inherits both

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DIMS = 384
K = 10
QUERIES = 100

WORKER_SIDE = '''
import numpy as np


def unit_matrix(rows, dims, seed, topics=2000):
    """Unit float32 rows in `topics` clusters, as embeddings of texts on a few thousand subjects are
    (uniformly random 384-d vectors have no near neighbours worth finding). The same in every
    process for a seed: made where it is used, it never crosses the grader's pipe."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((topics, dims), dtype=np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    matrix = rng.standard_normal((rows, dims), dtype=np.float32)
    topic = rng.integers(0, topics, size=rows)
    for start in range(0, rows, 50_000):  # in slices: the worker may add 2 GB, the matrix is 1.5
        part = matrix[start : start + 50_000]
        part *= np.float32(1 / np.sqrt(dims))  # noise of length about 1 around each row's centre
        part += centres[topic[start : start + 50_000]]
        part /= np.sqrt(np.einsum("ij,ij->i", part, part))[:, None]
    return matrix
'''
_here: dict = {}
exec(WORKER_SIDE, _here)  # the same code, in this process, for FAISS and hnswlib
unit_matrix = _here["unit_matrix"]


def median_ms(function, repeat: int) -> float:
    function()  # warm up
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def side_by_side(ways: dict, repeat: int) -> dict[str, float]:
    """Median milliseconds of each way, measured in turns (one call of each a round, after a warm-up
    round), so a busy moment of the machine falls on all of them alike."""
    times: dict[str, list[float]] = {name: [] for name in ways}
    for round_ in range(repeat + 1):
        for name, function in ways.items():
            started = time.perf_counter()
            function()
            if round_:
                times[name].append(time.perf_counter() - started)
    return {name: statistics.median(taken) * 1000 for name, taken in times.items()}


def copy_bandwidth(nbytes: int = 512 * 1024**2) -> float:
    """Bytes a second that one core copies (read + write counted once each, as a read-only scan
    of the matrix reads each byte once)."""
    source = np.ones(nbytes // 8)
    target = np.empty_like(source)
    best = min(_timed(lambda: np.copyto(target, source)) for _ in range(5))
    return 2 * nbytes / best


def _timed(function) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def numpy_batched(matrix: np.ndarray, queries: np.ndarray) -> list:
    """IndexFlatIP's work in numpy: all queries in one matrix product, then each query's row of
    scores: its 10 best by argpartition, only those sorted (rows are unit length: no lengths)."""
    found = []
    for scores in queries @ matrix.T:
        best = np.argpartition(-scores, K - 1)[:K]
        found.append(best[np.argsort(-scores[best])])
    return found


def numpy_one_pass(matrix: np.ndarray, query: np.ndarray, rows: int = 512) -> list:
    """Cosine top 10 for rows of any length, reading the matrix from memory once: each slice's
    lengths, then its dot products from the cache (a loop over slices, not rows)."""
    lengths = np.empty(len(matrix), matrix.dtype)
    scores = np.empty(len(matrix), matrix.dtype)
    for start in range(0, len(matrix), rows):
        part = matrix[start : start + rows]
        np.einsum("ij,ij->i", part, part, out=lengths[start : start + rows])
        np.matmul(part, query, out=scores[start : start + rows])
    scores /= np.sqrt(lengths)
    best = np.argpartition(-scores, K - 1)[:K]
    return sorted(best, key=lambda i: -scores[i])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    args = parser.parse_args()
    try:
        import faiss
        import hnswlib
    except ImportError:
        raise SystemExit('bench_search needs the [scale] extra: pip install -e ".[scale]"') from None
    faiss.omp_set_num_threads(THREADS)
    sys.path.insert(0, str(ROOT))
    import tempfile

    from embedlab.handle.learner import Learner

    rows_out: list[tuple[str, ...]] = []
    bandwidth = copy_bandwidth()
    with tempfile.TemporaryDirectory() as scratch:
        helper = Path(scratch) / "bench_worker_side.py"
        helper.write_text(WORKER_SIDE)
        learner = Learner(ROOT / "solutions", timeout=600)
        try:
            top_k = learner.function("applications", "top_k")
            for rows in args.sizes:
                matrix = unit_matrix(rows, DIMS, seed=rows)
                remote = learner.grader_code(helper).function("unit_matrix", keep=True)(rows, DIMS, rows)
                draw = np.random.default_rng(1)  # queries near rows of the matrix: on its topics
                queries = matrix[draw.integers(0, rows, QUERIES)] + draw.standard_normal((QUERIES, DIMS), dtype=np.float32) / np.float32(np.sqrt(DIMS))
                queries /= np.linalg.norm(queries, axis=1, keepdims=True)
                index = faiss.IndexFlatIP(DIMS)
                index.add(matrix)
                one = queries[:1]
                floor = matrix.nbytes / bandwidth * 1000
                figures = side_by_side(
                    {
                        "reference top_k, 1 query": lambda: top_k(one[0], remote, K),
                        "FAISS IndexFlatIP, 1 query": lambda: index.search(one, K),
                        "numpy X @ q + argpartition, 1 query": lambda: numpy_batched(matrix, one),
                        "numpy, lengths and X @ q in one pass, 1 query": lambda: numpy_one_pass(matrix, one[0]),
                    },
                    3 * args.repeat,  # a few milliseconds each: more rounds, steadier medians
                )
                figures |= side_by_side(
                    {
                        f"reference top_k, {QUERIES} queries in one call": lambda: top_k(queries, remote, K),
                        f"FAISS IndexFlatIP, {QUERIES} queries": lambda: index.search(queries, K),
                        f"numpy Q @ X.T + argpartition, {QUERIES} queries": lambda: numpy_batched(matrix, queries),
                    },
                    args.repeat,
                )
                figures[f"reference top_k, {QUERIES} queries (one call each)"] = median_ms(
                    lambda: [top_k(q, remote, K) for q in queries], max(1, args.repeat // 2)
                )
                for name, ms in figures.items():
                    shown = f"{ms:,.1f} ms"
                    if "1 query" in name:
                        shown += f" ({floor / ms:.0%} of the floor's speed)"
                    rows_out.append((f"{rows:,}", name, shown))
                    print("  measured:", *rows_out[-1], file=sys.stderr, flush=True)
                faiss_1, faiss_100 = figures["FAISS IndexFlatIP, 1 query"], figures[f"FAISS IndexFlatIP, {QUERIES} queries"]
                for name, ms, against in (
                    ("1 query", figures["reference top_k, 1 query"], faiss_1),
                    (f"{QUERIES} queries in one call", figures[f"reference top_k, {QUERIES} queries in one call"], faiss_100),
                    (f"{QUERIES} queries, one call each", figures[f"reference top_k, {QUERIES} queries (one call each)"], faiss_100),
                ):
                    rows_out.append((f"{rows:,}", f"reference top_k / FAISS, {name}", f"{ms / against:.2f}×"))
                rows_out.append((f"{rows:,}", "memory-bandwidth floor, 1 query", f"{floor:,.1f} ms ({matrix.nbytes / 1e6:,.0f} MB at {bandwidth / 1e9:.1f} GB/s)"))
                if rows == min(args.sizes):
                    started = time.perf_counter()
                    hnsw = hnswlib.Index(space="ip", dim=DIMS)
                    hnsw.init_index(max_elements=rows, M=16, ef_construction=64, random_seed=1)
                    hnsw.set_num_threads(THREADS)
                    hnsw.add_items(matrix)
                    build = time.perf_counter() - started
                    hnsw.set_ef(64)
                    exact = index.search(queries, K)[1]
                    found, _ = hnsw.knn_query(queries, k=K)
                    recall = np.mean([len(set(a) & set(b)) / K for a, b in zip(exact, found)])
                    rows_out.append((f"{rows:,}", f"HNSW build (hnswlib, M=16, ef_construction=64, {THREADS} thread{'s' * (THREADS > 1)})", f"{build:,.1f} s"))
                    rows_out.append((f"{rows:,}", "HNSW, 1 query (ef=64)", f"{median_ms(lambda: hnsw.knn_query(one, k=K), args.repeat):,.2f} ms"))
                    rows_out.append((f"{rows:,}", f"HNSW, {QUERIES} queries", f"{median_ms(lambda: hnsw.knn_query(queries, k=K), args.repeat):,.1f} ms"))
                    rows_out.append((f"{rows:,}", "HNSW recall@10 against exact search", f"{recall:.3f}"))
                    del hnsw
                del matrix, index, remote
                learner.fresh_worker()
        finally:
            learner.close()
    if args.markdown:
        print("| vectors | way | time |\n|---:|---|---:|")
        for row in rows_out:
            print("| " + " | ".join(row) + " |")
    else:
        width = max(len(r[1]) for r in rows_out)
        for vectors, name, shown in rows_out:
            print(f"{vectors:>10}  {name:<{width}}  {shown}")


if __name__ == "__main__":
    main()

"""The grader's own code that runs inside the worker, beside the learner's (`Learner.grader_code`).

What is built here never crosses the pipe: a 150 MB matrix is made where the learner's function
reads it, and comes back as a handle. What is timed here is timed in the same process as the
learner's code, on the same data, so "how much slower" compares like with like. The grading
process times both calls from outside (the learner's code cannot touch its clock), and keeps the
answers: nothing here decides a point.

Nothing run here in the worker works out an expected value either: learner code there could patch
numpy or sqlite3 and so shape the answer it is compared with. The grading process imports this
file too and runs it in its own process for those: the same seeded rows (`seeded_parts`, without
building the whole matrix), the pairs of `pairs_above`; a reference timed here counts at most
a few times the same work timed in the grading process.

numpy and the standard library only: the worker imports nothing of the grading side.
"""

from __future__ import annotations

import numpy as np


def seeded_parts(rows: int, dims: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """What a seeded matrix is made of: (rows, dims) int8 numbers and a float32 scale per row.

    Raw bits of the seed's PCG64 stream (a bit generator's stream stays the same from one numpy
    to the next; drawing them is ten times as fast as a normal draw), so that the grading process
    can make them again in a tenth of a second."""
    size = rows * dims
    raw = np.random.PCG64(seed).random_raw(-(-size // 8)).view(np.int8)[:size].reshape(rows, dims)
    scales = np.random.default_rng([seed, 1]).uniform(0.2 / 64, 5.0 / 64, size=rows).astype(np.float32)
    return raw, scales


def seeded_rows(raw: np.ndarray, scales: np.ndarray, indices) -> np.ndarray:
    """Rows of the seeded matrix, exactly as `seeded_matrix` makes them (float32)."""
    return raw[indices].astype(np.float32) * scales[indices, None]


def seeded_matrix(rows: int, dims: int, seed: int) -> np.ndarray:
    """A float32 (rows, dims) matrix whose rows are not of length 1, the same for a seed.

    Every row points somewhere else, and each is scaled by its own factor from 0.2 to 5, so that
    a dot product without dividing by the lengths ranks the long rows first."""
    raw, scales = seeded_parts(rows, dims, seed)
    matrix = raw.astype(np.float32)
    matrix *= scales[:, None]
    return matrix


def fingerprint(matrix: np.ndarray) -> list:
    """Enough to tell whether a matrix was changed in place (normalised, sorted, zeroed), reading
    a few of its rows: dtype, shape, and sums over every 97th row and the first column.

    Worked out in the learner's process, like every answer it gives: it is the learner's code
    telling about its own arguments, and a lie here gains nothing that leaving them alone does
    not (each expected value is worked out in the grading process)."""
    sample = matrix[::97].astype(np.float64)
    return [str(matrix.dtype), list(matrix.shape), float(sample.sum()), float(np.abs(sample).sum()), float(matrix[:, 0].sum(dtype=np.float64))]


def plain_top_k(query, matrix, k=5):
    """What the learner's top_k is timed against: the plainest correct vectorised answer — the
    matrix copied to float64, its rows made unit length, one matrix product, a full stable sort.
    A faster answer (argpartition, float32) is welcome; a Python loop over the rows is not."""
    matrix = np.asarray(matrix, dtype=np.float64)
    query = np.asarray(query, dtype=np.float64)
    scores = (matrix / np.linalg.norm(matrix, axis=1, keepdims=True)) @ (query / np.linalg.norm(query))
    order = np.argsort(-scores, kind="stable")[:k]
    return [(int(i), float(scores[i])) for i in order]


def pairs_above(vectors, threshold: float) -> list[tuple[int, int, float]]:
    """Every pair (i, j), i < j, of rows whose cosine is at least `threshold`: one matrix product,
    highest score first, ties by (i, j)."""
    vectors = np.asarray(vectors, dtype=np.float64)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    similarity = unit @ unit.T
    rows, cols = np.triu_indices(len(vectors), k=1)
    scores = similarity[rows, cols]
    keep = scores >= threshold
    rows, cols, scores = rows[keep], cols[keep], scores[keep]
    order = np.lexsort((cols, rows, -scores))
    return [(int(rows[n]), int(cols[n]), float(scores[n])) for n in order]


def near_duplicates_reference(texts, threshold=0.9, *, client, model):
    """The reference answer the learner's near_duplicates is timed against, through a client of
    its own: one request, one matrix product."""
    response = client.embeddings.create(model=model, input=list(texts))
    return pairs_above([item.embedding for item in sorted(response.data, key=lambda item: item.index)], threshold)

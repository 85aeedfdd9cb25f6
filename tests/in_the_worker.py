"""The grader's own code that runs inside the worker, beside the learner's (`Learner.grader_code`).

What is built here never crosses the pipe: a 150 MB matrix is made where the learner's function
reads it, and comes back as a handle. What is timed here is timed in the same process as the
learner's code, on the same data, so "how much slower" compares like with like. The grading
process times both calls from outside (the learner's code cannot touch its clock), and keeps the
answers: nothing here decides a point.

numpy and the standard library only: the worker imports nothing of the grading side.
"""

from __future__ import annotations

import sqlite3
from urllib.parse import quote

import numpy as np


def seeded_matrix(rows: int, dims: int, seed: int) -> np.ndarray:
    """A float32 (rows, dims) matrix whose rows are not of length 1, the same for a seed.

    Made from random bytes, in two passes (a normal draw of 38 million numbers takes seconds on a
    busy machine): every row points somewhere else, and each is scaled by its own factor from 0.2
    to 5, so that a dot product without dividing by the lengths ranks the long rows first."""
    rng = np.random.default_rng(seed)
    matrix = np.frombuffer(rng.bytes(rows * dims), dtype=np.int8).reshape(rows, dims).astype(np.float32)
    matrix *= rng.uniform(0.2 / 64, 5.0 / 64, size=rows).astype(np.float32)[:, None]
    return matrix


def row(matrix: np.ndarray, index: int) -> np.ndarray:
    """One row, as a float32 vector (a query drawn near the matrix's rows)."""
    return np.array(matrix[index], dtype=np.float32)


def blend(matrix: np.ndarray, indices: list[int], seed: int) -> np.ndarray:
    """A query near a few rows: their unit vectors added up, plus noise."""
    rng = np.random.default_rng(seed)
    picked = matrix[indices].astype(np.float64)
    query = (picked / np.linalg.norm(picked, axis=1, keepdims=True)).sum(axis=0)
    query += rng.normal(scale=0.3, size=query.shape)
    return (query * 2.5).astype(np.float32)


def fingerprint(matrix: np.ndarray) -> list:
    """Enough to tell whether a matrix was changed in place (normalised, sorted, zeroed), reading
    a few of its rows: dtype, shape, and sums over every 97th row and the first column."""
    sample = matrix[::97].astype(np.float64)
    return [str(matrix.dtype), list(matrix.shape), float(sample.sum()), float(np.abs(sample).sum()), float(matrix[:, 0].sum(dtype=np.float64))]


def best_rows(query: np.ndarray, matrix: np.ndarray, count: int) -> list[tuple[int, float]]:
    """The `count` best rows by cosine, scored exactly (float64), best first, ties by index.

    Candidates come from float32 scores (four times `count`, so rounding cannot leave one out);
    each is then scored again in float64."""
    query = np.asarray(query, dtype=np.float64)
    scores = matrix @ query.astype(matrix.dtype)
    lengths = np.sqrt(np.einsum("ij,ij->i", matrix, matrix, dtype=np.float64))
    scores = scores / lengths
    wide = min(len(scores), 4 * count)
    candidates = np.argpartition(-scores, wide - 1)[:wide]
    exact = matrix[candidates].astype(np.float64) @ query
    exact /= np.linalg.norm(matrix[candidates].astype(np.float64), axis=1) * np.linalg.norm(query)
    order = np.lexsort((candidates, -exact))[:count]
    return [(int(candidates[i]), float(exact[i])) for i in order]


def top_k_reference(query, matrix, k=5):
    """The reference answer the learner's top_k is timed against: one pass for the dot products,
    one for the lengths, the k best by np.argpartition, only those sorted."""
    query = np.asarray(query)
    matrix = np.asarray(matrix)
    scores = (matrix @ query.astype(matrix.dtype)) / np.sqrt(np.einsum("ij,ij->i", matrix, matrix))
    scores /= np.linalg.norm(query)
    k = min(k, len(scores))
    kept = np.argpartition(-scores, k - 1)[:k]
    kept = kept[np.lexsort((kept, -scores[kept]))]
    return [(int(i), float(scores[i])) for i in kept]


def plain_top_k(query, matrix, k=5):
    """What the learner's top_k is timed against: the plainest correct vectorised answer — the
    matrix copied to float64, its rows made unit length, one matrix product, a full stable sort.
    A faster answer (argpartition, float32) is welcome; a Python loop over the rows is not."""
    matrix = np.asarray(matrix, dtype=np.float64)
    query = np.asarray(query, dtype=np.float64)
    scores = (matrix / np.linalg.norm(matrix, axis=1, keepdims=True)) @ (query / np.linalg.norm(query))
    order = np.argsort(-scores, kind="stable")[:k]
    return [(int(i), float(scores[i])) for i in order]


def near_duplicates_reference(texts, threshold=0.9, *, client, model):
    """The reference answer the learner's near_duplicates is timed against, through a client of
    its own: one request, one matrix product."""
    response = client.embeddings.create(model=model, input=list(texts))
    vectors = np.array([item.embedding for item in sorted(response.data, key=lambda item: item.index)])
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    similarity = unit @ unit.T
    rows, cols = np.triu_indices(len(vectors), k=1)
    scores = similarity[rows, cols]
    keep = scores >= threshold
    rows, cols, scores = rows[keep], cols[keep], scores[keep]
    order = np.lexsort((cols, rows, -scores))
    return [(int(rows[n]), int(cols[n]), float(scores[n])) for n in order]


def store_contents(path: str, most: int = 200) -> dict:
    """What an SQLite file holds, read-only: each table's columns, and its cells as data (text,
    numbers, and blobs cut at 4 KB), at most `most` rows a table. Read here, in the learner's
    process, so the grading process never parses a file the learner's code wrote."""
    found: dict = {"tables": {}, "error": None}
    try:
        db = sqlite3.connect(f"file:{quote(str(path))}?mode=ro", uri=True)
        try:
            names = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            for name in names:
                cursor = db.execute(f'SELECT * FROM "{name.replace(chr(34), chr(34) * 2)}" LIMIT {int(most)}')
                columns = [d[0] for d in cursor.description]
                cells = []
                for values in cursor:
                    cells.append([v[:4096] if isinstance(v, bytes) else v for v in values])
                found["tables"][name] = {"columns": columns, "rows": cells}
        finally:
            db.close()
    except sqlite3.Error as err:
        found["error"] = f"{type(err).__name__}: {err}"
    return found

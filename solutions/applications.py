"""Exercise 4 — beyond the section: search at scale, a vector store, near-duplicates, classification.

Run it: python solutions/applications.py
"""

import os
import sqlite3

import numpy as np

if not __package__:  # run as a file, not with -m: make the sibling imports below work
    from embedlab.common import package_of

    __package__ = package_of(__file__)

from embedlab.common import client_and_model, run_script

from .embed import embed

# What the script part below shows (the tests bring their own texts).
NOTES = [
    "The meeting has been moved to Thursday afternoon.",
    "How do I reset my password?",
    "The meeting was rescheduled for Thursday afternoon.",
    "Please restart the router and try again.",
    "How can I reset my password?",
    "Bananas are rich in potassium.",
    "Please restart the router and try again.",
]
TICKETS = {
    "bugs": ["Opening the camera makes the application close immediately.", "The export button does nothing on Windows."],
    "features": ["I wish the app had a camera timer.", "Could you add more camera settings?", "Please add a dark mode."],
}


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    lengths = np.linalg.norm(matrix, axis=1)
    if not np.all(lengths > 0):
        raise ValueError("a zero vector has no direction, so no cosine with it")
    return matrix / lengths[:, None]


def top_k(query_vector, vectors, k=5):
    """The min(k, n) rows most similar to the query, as (row index, score), best first.

    Beyond the contract: a matrix of queries, one per row, gives one such list per query from a
    single matrix product, as FAISS's search takes them: 100 queries cost far less than 100 calls.

    >>> top_k([1, 0], [[0, 2], [3, 0], [1, 1]], k=2)
    [(1, 1.0), (2, 0.7071067811865475)]
    >>> top_k([[1, 0], [0, 1]], [[0, 2], [3, 0], [1, 1]], k=1)
    [[(1, 1.0)], [(0, 1.0)]]
    """
    queries = np.asarray(query_vector, dtype=np.float64)
    matrix = np.asarray(vectors)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a whole number of at least 1, not {k!r}")
    if queries.ndim not in (1, 2) or queries.size == 0:
        raise ValueError("the query must be one flat, non-empty vector (or a matrix of them, one per row)")
    if matrix.ndim != 2 or matrix.shape[0] == 0:
        raise ValueError("vectors must be a non-empty matrix: one row per vector")
    if matrix.shape[1] != queries.shape[-1]:
        raise ValueError(f"the query has {queries.shape[-1]} numbers, the rows {matrix.shape[1]}")
    query_lengths = np.linalg.norm(queries, axis=-1)
    if not query_lengths.all():
        raise ValueError("a zero query vector has no direction, so no cosine with it")
    if matrix.dtype not in (np.float32, np.float64):
        matrix = matrix.astype(np.float64)  # float16, ints: computed in float64
    # Two passes over the matrix, no copy of it: the rows' lengths, then the dot products.
    lengths = np.sqrt(np.einsum("ij,ij->i", matrix, matrix))
    if not lengths.all():
        raise ValueError("a zero row has no direction, so no cosine with it")
    scores = np.atleast_2d(queries.astype(matrix.dtype)) @ matrix.T  # one row of scores per query
    scores /= lengths
    scores /= np.atleast_1d(query_lengths)[:, None]
    best = [_best(row, min(int(k), len(row))) for row in scores]
    return best[0] if queries.ndim == 1 else best


def _best(scores, k):
    """The k best (index, score) of one row of scores: highest first, equal scores by lower index."""
    n = len(scores)
    if k < n:
        # The k best in linear time; rows tied with the k-th come along, and the index settles it.
        cutoff = scores[np.argpartition(scores, n - k)[n - k]]
        kept = np.flatnonzero(scores >= cutoff)
    else:
        kept = np.arange(n)
    order = kept[np.lexsort((kept, -scores[kept]))][:k]
    return [(int(i), min(1.0, max(-1.0, float(scores[i])))) for i in order]


class VectorStore:
    """Texts and their vectors in one SQLite file: each text is embedded once, ever.

    >>> with VectorStore("notes.db") as store:
    ...     store.add(["The cat sat on the mat.", "We deployed the web server at noon."])
    2
    """

    def __init__(self, path, *, client=None, model=None):
        self.client, self.model = client_and_model(client, model)
        path = os.fspath(path)
        if not os.path.exists(path):
            # Owner only: created with mode 0o600 before SQLite opens it (its journals follow it).
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        self.db = sqlite3.connect(path)
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS vectors ("
            " id INTEGER PRIMARY KEY, text TEXT UNIQUE NOT NULL, model TEXT NOT NULL, vector BLOB NOT NULL)"
        )
        self.db.commit()
        held = [row[0] for row in self.db.execute("SELECT DISTINCT model FROM vectors")]
        others = [m for m in held if m != self.model]
        if others:
            self.db.close()
            raise ValueError(
                f"{path} holds vectors of model {others[0]!r}; they cannot be compared with model "
                f"{self.model!r}'s: use another file, or the same model"
            )

    def __len__(self):
        return self.db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0]

    def add(self, texts):
        texts = [texts] if isinstance(texts, str) else list(texts)
        held = set()
        for start in range(0, len(texts), 500):  # SQLite caps the number of ? in one statement
            chunk = texts[start : start + 500]
            marks = ",".join("?" * len(chunk))
            held.update(row[0] for row in self.db.execute(f"SELECT text FROM vectors WHERE text IN ({marks})", chunk))
        new = [t for t in dict.fromkeys(texts) if t not in held]  # once each, in the order given
        if not new:
            return 0
        vectors = embed(new, client=self.client, model=self.model).astype("<f4")
        with self.db:  # one transaction: all of them, or none
            self.db.executemany(
                "INSERT INTO vectors (text, model, vector) VALUES (?, ?, ?)",
                [(text, self.model, vector.tobytes()) for text, vector in zip(new, vectors)],
            )
        return len(new)

    def search(self, query, k=5):
        rows = self.db.execute("SELECT text, vector FROM vectors ORDER BY id").fetchall()
        if not rows:
            raise ValueError("the store is empty: add() some texts before searching")
        matrix = np.stack([np.frombuffer(blob, dtype="<f4") for _, blob in rows])
        query_vector = embed([query], client=self.client, model=self.model)[0]
        return [(score, rows[i][0]) for i, score in top_k(query_vector, matrix, k)]

    def close(self):
        self.db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def near_duplicates(texts, threshold=0.9, *, client=None, model=None):
    """Every pair i < j of texts whose cosine is at least `threshold`, as (i, j, score), best first.

    near_duplicates(["How do I reset my password?", "Bananas are rich in potassium.",
                     "How can I reset my password?"])
    -> [(0, 2, 0.992)]   (all-MiniLM-L6-v2; another model gives other numbers)
    """
    texts = list(texts)
    if len(texts) < 2:
        return []
    unit = _unit_rows(embed(texts, client=client, model=model))
    similarity = unit @ unit.T  # every pair in one matrix product
    rows, cols = np.triu_indices(len(texts), k=1)  # i < j: each pair once, never a text with itself
    scores = np.clip(similarity[rows, cols], -1.0, 1.0)
    keep = scores >= threshold
    rows, cols, scores = rows[keep], cols[keep], scores[keep]
    order = np.lexsort((cols, rows, -scores))
    return [(int(rows[n]), int(cols[n]), float(scores[n])) for n in order]


def classify(text, examples, *, client=None, model=None):
    """The label whose single example is most similar to `text` ("nearest-labeled-example wins").

    classify("The app crashes every time I open the camera.", TICKETS) -> 'bugs'
    """
    if not examples:
        raise ValueError("no examples: give each label at least one example text")
    labels, texts = [], []
    for label, shown in examples.items():
        shown = [shown] if isinstance(shown, str) else list(shown)
        if not shown:
            raise ValueError(f"label {label!r} has no examples")
        labels += [label] * len(shown)
        texts += shown
    vectors = embed([text] + texts, client=client, model=model)  # one request for everything
    (best, _), = top_k(vectors[0], vectors[1:], k=1)  # ties: the lower index, the label listed first
    return labels[best]


def main():
    print("Near-duplicates among the notes (cosine >= 0.9):")
    for i, j, score in near_duplicates(NOTES):
        print(f"   {score:.3f}  {NOTES[i]!r} ~ {NOTES[j]!r}")
    ticket = "The app crashes every time I open the camera."
    print(f"The ticket {ticket!r} is about: {classify(ticket, TICKETS)}")
    vectors = embed(NOTES)
    print("The notes nearest the first one:", top_k(vectors[0], vectors, k=3))


if __name__ == "__main__":
    run_script(main)

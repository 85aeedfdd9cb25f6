"""Exercise 2 — cosine() and rank(): compare vectors by hand, then a tiny semantic search.

Run it: python solutions/similarity.py
"""

import numpy as np

if not __package__:  # run as a file, not with -m: make the sibling imports below work
    from embedlab.common import package_of

    __package__ = package_of(__file__)

from embedlab.common import run_script
from embedlab.section import DOCS, QUERY

from .embed import embed


def cosine(a, b):
    """Cosine similarity of two vectors: the dot product divided by the product of their lengths.

    >>> cosine([1, 0], [2, 0])   # same direction, different length
    1.0
    >>> cosine([1, 0], [0, 3])   # at right angles: unrelated
    0.0
    """
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if a.ndim != 1 or b.ndim != 1:
        raise ValueError("cosine() compares two flat vectors (1-D lists or arrays)")
    if len(a) != len(b):
        raise ValueError(f"vectors of different lengths: {len(a)} and {len(b)}")
    if len(a) == 0:
        raise ValueError("cannot compare empty vectors")
    lengths = np.linalg.norm(a) * np.linalg.norm(b)
    if lengths == 0:
        raise ValueError("a zero vector has no direction, so no angle to measure")
    # Rounding can land a hair outside [-1, 1]; clip it back.
    return float(np.clip(a @ b / lengths, -1.0, 1.0))


def rank(query, docs, *, client=None, model=None):
    """Every doc as (score, doc), most similar to `query` first; ties keep the input order.

    rank("a sleeping cat", ["We deployed the web server at noon.", "The cat sat on the mat."])
    -> [(0.547, 'The cat sat on the mat.'), (-0.002, 'We deployed the web server at noon.')]
       (scores from all-MiniLM-L6-v2; another model gives other numbers, the same order)
    """
    docs = list(docs)
    if not docs:
        return []
    vectors = embed([query] + docs, client=client, model=model)  # one request for everything
    query_vec, doc_vecs = vectors[0], vectors[1:]
    scored = [(cosine(query_vec, doc_vec), doc) for doc_vec, doc in zip(doc_vecs, docs)]
    # Sort on the score alone: Python's sort is stable, so equal scores keep their input order.
    return sorted(scored, key=lambda pair: pair[0], reverse=True)


def main():
    for score, doc in rank(QUERY, DOCS):
        print(f"{score:.3f} {doc}")


if __name__ == "__main__":
    run_script(main)

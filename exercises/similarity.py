"""Exercise 2 — cosine() and rank(): compare vectors by hand, then a tiny semantic search.

Run it: python exercises/similarity.py   Grade it: pytest -k cosine, pytest -k rank
"""

import numpy as np  # noqa: F401 (you will need it)

if not __package__:  # run as a file, not with -m: make the sibling imports below work
    from embedlab.common import package_of

    __package__ = package_of(__file__)

from embedlab.common import run_script
from embedlab.course import hint
from embedlab.section import DOCS, QUERY

from .embed import embed  # noqa: F401 (your embed() from exercise 1)


def cosine(a, b):
    """Cosine similarity of two vectors: the dot product divided by the product of their lengths.

    - `a` and `b` are lists or 1-D numpy arrays of numbers, of the same length.
    - Returns a plain Python float between -1.0 and 1.0.
    - Raises ValueError for vectors of different lengths, empty vectors, or a zero vector
      (all zeros: it has no direction, so there is no angle to measure).

    >>> cosine([1, 0], [2, 0])   # same direction, different length
    1.0
    >>> cosine([1, 0], [0, 3])   # at right angles: unrelated
    0.0
    """
    raise NotImplementedError(hint("cosine"))


def rank(query, docs, *, client=None, model=None):
    """Every doc as a (score, doc) tuple, most similar to `query` first; ties keep input order.

    - Embed the docs in one request (the query may share it, or take one more request).
    - The score is cosine(query vector, doc vector).

    rank("a sleeping cat", ["We deployed the web server at noon.", "The cat sat on the mat."])
    -> [(0.547, 'The cat sat on the mat.'), (-0.002, 'We deployed the web server at noon.')]
       (scores from all-MiniLM-L6-v2; another model gives other numbers, the same order)
    """
    raise NotImplementedError(hint("rank"))


def main():
    for score, doc in rank(QUERY, DOCS):
        print(f"{score:.3f} {doc}")


if __name__ == "__main__":
    run_script(main)

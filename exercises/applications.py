"""Exercise 4 — beyond the section: search at scale, a vector store, near-duplicates, classification.

What the section's "Why this matters", "store the vectors once", "Scaling up" and "Security"
paragraphs describe, as four functions of your own.

Run it: python exercises/applications.py
Grade it: pytest -k top_k, pytest -k vector_store, pytest -k near_duplicates, pytest -k classify
"""

import os  # noqa: F401 (you will need these)
import sqlite3  # noqa: F401

import numpy as np  # noqa: F401

if not __package__:  # run as a file, not with -m: make the sibling imports below work
    from embedlab.common import package_of

    __package__ = package_of(__file__)

from embedlab.common import client_and_model, run_script  # noqa: F401
from embedlab.course import hint

from .embed import embed  # noqa: F401 (your embed() from exercise 1)

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


def top_k(query_vector, vectors, k=5):
    """The min(k, n) rows of `vectors` most similar to `query_vector` by cosine, best first.

    - `vectors` is an (n, d) matrix: a numpy array of any float dtype, or a list of lists. Its rows
      need not be of length 1: divide by the lengths.
    - Returns a list of (row index, score) tuples — a plain int and a plain float —, highest score
      first; equal scores by the lower row index.
    - Raises ValueError when the query and the rows differ in length, when there are no rows,
      when k < 1, or for a zero vector (no direction, so no angle). Changes none of its arguments.
    - One vectorised computation: no Python loop over the rows (the tests use 100,000 of them).

    >>> top_k([1, 0], [[0, 2], [3, 0], [1, 1]], k=2)
    [(1, 1.0), (2, 0.7071067811865475)]
    """
    raise NotImplementedError(hint("top_k"))


class VectorStore:
    """Texts and their vectors in one SQLite file (stdlib `sqlite3`): each text is embedded once, ever.

    - `VectorStore(path, client=None, model=None)` opens the file, or creates it readable and
      writable by its owner only (mode 0o600: a store of vectors is sensitive data). Opened with
      another model than the one whose vectors it holds, it raises ValueError naming both models.
    - `add(texts)` embeds, in ONE request, only the texts it does not hold yet (a text repeated in
      the call counts once; keep them in the order given), stores each as its text, the model and
      its vector as float32 bytes (`vector.astype("<f4").tobytes()`; never pickle), and returns
      how many it embedded now — 0, and no request, when it holds them all.
    - `search(query, k=5)` embeds the query (one request) and returns the k best (score, text)
      pairs, as rank() does: highest first, equal scores in the order the texts were added;
      ValueError when the store is empty.
    - `len(store)` is how many texts it holds; `close()`, and `with VectorStore(...) as store:`.
    - Reopened later, in another process, it embeds nothing it already holds.

    >>> with VectorStore("notes.db") as store:
    ...     store.add(["The cat sat on the mat.", "We deployed the web server at noon."])
    2
    """

    def __init__(self, path, *, client=None, model=None):
        raise NotImplementedError(hint("vector_store"))

    def __len__(self):
        raise NotImplementedError(hint("vector_store"))

    def add(self, texts):
        raise NotImplementedError(hint("vector_store"))

    def search(self, query, k=5):
        raise NotImplementedError(hint("vector_store"))

    def close(self):
        raise NotImplementedError(hint("vector_store"))

    def __enter__(self):  # `with VectorStore(path) as store:` gets the store itself
        raise NotImplementedError(hint("vector_store"))

    def __exit__(self, *exc):  # leaving the `with` block closes it
        raise NotImplementedError(hint("vector_store"))


def near_duplicates(texts, threshold=0.9, *, client=None, model=None):
    """Every pair i < j of texts whose cosine is at least `threshold`, as (i, j, score), best first.

    - Each pair once, never a text with itself; two equal texts are a pair.
    - Highest score first; equal scores by (i, j). `i`, `j` are plain ints, the score a float.
    - One request for all the texts, and one matrix product for all the pairs (no double loop).
    - Fewer than two texts: [].

    near_duplicates(["How do I reset my password?", "Bananas are rich in potassium.",
                     "How can I reset my password?"])
    -> [(0, 2, 0.992)]   (all-MiniLM-L6-v2; another model gives other numbers)
    """
    raise NotImplementedError(hint("near_duplicates"))


def classify(text, examples, *, client=None, model=None):
    """The label of the single example most similar to `text` ("nearest-labeled-example wins").

    - `examples` maps each label to a list of example texts, e.g. TICKETS above.
    - Not the label with the most examples, nor the one whose examples are closest on average:
      the label of the one nearest example. Equal scores: the label listed first.
    - The text and all the examples in one request.
    - Raises ValueError for no examples at all, or a label without any.

    classify("The app crashes every time I open the camera.", TICKETS) -> 'bugs'
    """
    raise NotImplementedError(hint("classify"))


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

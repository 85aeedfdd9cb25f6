"""Exercise 1 — embed(): turn a list of texts into a matrix of vectors, in one request.

Run it: python exercises/embed.py        Grade it: pytest -k embed
"""

import numpy as np  # noqa: F401 (you will need it)

from embedlab.common import client_and_model, run_script  # noqa: F401
from embedlab.course import hint


def embed(texts, *, client=None, model=None):
    """Embed `texts` with one request; return a float array of shape (len(texts), dim).

    - `texts` is a list of strings; a bare string counts as one text (shape (1, dim)).
    - One call to `client.embeddings.create(model=model, input=[...])` for the whole list.
    - Row i is the embedding of texts[i]: place each item of `response.data` by its `.index`.
    - An empty list raises ValueError; an item that is not a string raises TypeError that
      names its position (e.g. "texts[1] is an int").
    - `client, model = client_and_model(client, model)` picks the ones from `.env` when None.

    >>> vectors = embed(["The cat sat on the mat.", "A feline rested on the rug."])
    >>> vectors.shape
    (2, 384)
    """
    raise NotImplementedError(hint("embed"))


def main():
    texts = ["The cat sat on the mat.", "A feline rested on the rug."]
    vectors = embed(texts)
    print("vectors:", len(vectors), "| dimensions:", len(vectors[0]))


if __name__ == "__main__":
    run_script(main)

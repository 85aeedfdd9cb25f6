"""Exercise 1 — embed(): turn a list of texts into a matrix of vectors, in one request.

Run it: python solutions/embed.py
"""

import numpy as np

from embedlab.common import client_and_model, run_script


def embed(texts, *, client=None, model=None):
    """Embed `texts` with one request; return a float array of shape (len(texts), dim).

    >>> vectors = embed(["The cat sat on the mat.", "A feline rested on the rug."])
    >>> vectors.shape
    (2, 384)
    """
    if isinstance(texts, str):  # one text, not a list of characters
        texts = [texts]
    texts = list(texts)
    if not texts:
        raise ValueError("embed() needs at least one text, got an empty list")
    for position, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"texts[{position}] is a {type(text).__name__}, not a string: {text!r}")

    client, model = client_and_model(client, model)
    response = client.embeddings.create(model=model, input=texts)

    # Each item says which input it belongs to: trust its index, not the order items arrive in.
    items = sorted(response.data, key=lambda item: item.index)
    return np.array([item.embedding for item in items], dtype=float)


def main():
    texts = ["The cat sat on the mat.", "A feline rested on the rug."]
    vectors = embed(texts)
    print("vectors:", len(vectors), "| dimensions:", len(vectors[0]))


if __name__ == "__main__":
    run_script(main)

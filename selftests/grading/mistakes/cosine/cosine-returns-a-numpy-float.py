"""A mistake in similarity.py: cosine returns a numpy float.

file: similarity.py
test: test_agrees_with_the_formula_on_generated_vectors
says: return a plain float
"""

# -- swapped into the solution file from here on (its own imports stand) --
def cosine(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.ndim != 1 or a.shape != b.shape or a.size == 0:
        raise ValueError("two flat vectors of one length")
    lengths = np.linalg.norm(a) * np.linalg.norm(b)
    if lengths == 0:
        raise ValueError("a zero vector")
    return np.clip(a @ b / lengths, -1.0, 1.0)

"""A mistake in similarity.py: cosine broadcasts a length one vector.

file: similarity.py
test: test_agrees_with_the_formula_on_generated_vectors
says: different lengths
"""

# -- swapped into the solution file from here on (its own imports stand) --
def cosine(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.size == 0 or b.size == 0:
        raise ValueError("empty")
    lengths = np.linalg.norm(a) * np.linalg.norm(b)
    if lengths == 0:
        raise ValueError("a zero vector")
    return float(np.clip(np.sum(a * b) / lengths, -1.0, 1.0))

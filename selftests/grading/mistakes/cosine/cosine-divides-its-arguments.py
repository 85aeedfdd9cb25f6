"""A mistake in similarity.py: cosine divides its arguments.

file: similarity.py
test: test_accepts_lists_and_arrays_and_returns_a_float
says: changed its argument
"""

# -- swapped into the solution file from here on (its own imports stand) --
def cosine(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(a) != len(b) or len(a) == 0 or not a.any() or not b.any():
        raise ValueError("bad vectors")
    a /= np.linalg.norm(a)
    b /= np.linalg.norm(b)
    return float(a @ b)

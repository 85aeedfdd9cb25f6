"""A mistake in similarity.py: cosine returns float32.

file: similarity.py
test: test_accepts_lists_and_arrays_and_returns_a_float
says: return a plain float
"""

# -- swapped into the solution file from here on (its own imports stand) --
def cosine(a, b):
    a, b = np.asarray(a, dtype=np.float32), np.asarray(b, dtype=np.float32)
    if len(a) != len(b) or len(a) == 0 or not a.any() or not b.any():
        raise ValueError("bad vectors")
    return a @ b / (np.linalg.norm(a) * np.linalg.norm(b))

"""A mistake in similarity.py: cosine nan for a zero vector.

file: similarity.py
test: test_a_zero_vector_raises_value_error
says: nan
"""

# -- swapped into the solution file from here on (its own imports stand) --
def cosine(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(a) != len(b) or len(a) == 0:
        raise ValueError("bad vectors")
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))

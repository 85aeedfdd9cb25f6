"""A mistake in similarity.py: cosine absolute value.

file: similarity.py
test: test_right_angle_is_zero_and_opposite
says: no abs()
"""

# -- swapped into the solution file from here on (its own imports stand) --
def cosine(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(a) != len(b) or len(a) == 0 or not a.any() or not b.any():
        raise ValueError("bad vectors")
    return float(abs(a @ b) / (np.linalg.norm(a) * np.linalg.norm(b)))

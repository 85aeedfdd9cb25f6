"""A mistake in similarity.py: cosine divides by one length.

file: similarity.py
test: test_matches_the_formula_on_known_angles
says: expected 0.960000
"""

# -- swapped into the solution file from here on (its own imports stand) --
def cosine(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(a @ b / np.linalg.norm(a))

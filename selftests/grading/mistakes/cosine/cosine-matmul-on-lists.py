"""A mistake in similarity.py: cosine matmul on lists.

file: similarity.py
test: test_same_direction_scores_one
says: TypeError
"""

# -- swapped into the solution file from here on (its own imports stand) --
def cosine(a, b):
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))

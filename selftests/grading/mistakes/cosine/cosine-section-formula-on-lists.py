"""A mistake in similarity.py: cosine section formula on lists.

file: similarity.py
test: test_same_direction_scores_one
says: raised TypeError: unsupported operand type(s) for @
"""

# -- swapped into the solution file from here on (its own imports stand) --
def cosine(a, b):
    return a @ b / (np.linalg.norm(a) * np.linalg.norm(b))

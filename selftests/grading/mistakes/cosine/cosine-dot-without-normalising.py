"""A mistake in similarity.py: cosine dot without normalising.

file: similarity.py
test: test_same_direction_scores_one
says: divide the dot product by both lengths
"""

# -- swapped into the solution file from here on (its own imports stand) --
def cosine(a, b):
    return float(np.dot(a, b))

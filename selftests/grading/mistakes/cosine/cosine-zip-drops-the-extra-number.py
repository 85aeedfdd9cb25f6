"""A mistake in similarity.py: cosine zip drops the extra number.

file: similarity.py
test: test_different_lengths_raise_value_error
says: zip() silently drops
"""

# -- swapped into the solution file from here on (its own imports stand) --
def cosine(a, b):
    if len(a) == 0:
        raise ValueError("empty")
    dot = sum(x * y for x, y in zip(a, b))
    la, lb = sum(x * x for x in a) ** 0.5, sum(y * y for y in b) ** 0.5
    if la == 0 or lb == 0:
        raise ValueError("zero vector")
    return dot / (la * lb)

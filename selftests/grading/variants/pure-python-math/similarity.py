"""A correct similarity.py written otherwise: pure python math."""

# -- swapped into the solution file from here on (its own imports stand) --
def cosine(a, b):
    import math
    a, b = list(a), list(b)
    if len(a) != len(b):
        raise ValueError("different lengths")
    if not a:
        raise ValueError("empty")
    dot = sum(x * y for x, y in zip(a, b))
    length_a = math.sqrt(sum(x * x for x in a))
    length_b = math.sqrt(sum(y * y for y in b))
    if length_a == 0 or length_b == 0:
        raise ValueError("zero vector")
    return float(dot / (length_a * length_b))

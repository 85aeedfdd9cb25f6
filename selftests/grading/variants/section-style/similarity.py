"""A correct similarity.py written otherwise: section style."""

# -- swapped into the solution file from here on (its own imports stand) --
def cosine(a, b):
    a, b = np.array(a, dtype=float), np.array(b, dtype=float)
    if len(a) != len(b) or len(a) == 0 or np.linalg.norm(a) == 0 or np.linalg.norm(b) == 0:
        raise ValueError("cannot compare these vectors")
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))

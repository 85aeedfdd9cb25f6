"""A correct similarity.py written otherwise: np dot and float32."""

# -- swapped into the solution file from here on (its own imports stand) --
def cosine(a, b):
    a = np.asarray(a, dtype=np.float32)
    b = np.asarray(b, dtype=np.float32)
    if a.shape != b.shape or a.size == 0:
        raise ValueError("vectors must be non-empty and of the same length")
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na == 0 or nb == 0:
        raise ValueError("zero vector")
    return float(np.dot(a, b) / (na * nb))

"""A mistake in applications.py: top k normalises the matrix in place.

file: applications.py
test: test_finds_the_most_similar_recorded_vectors
says: changed the matrix it was given
"""

# -- swapped into the solution file from here on (its own imports stand) --
def top_k(query_vector, vectors, k=5):
    m = np.asarray(vectors)
    if not np.issubdtype(m.dtype, np.floating):
        m = m.astype(float)
    q = np.asarray(query_vector, dtype=float)
    if k < 1 or m.ndim != 2 or len(m) == 0 or m.shape[1] != len(q) or not q.any() or not np.linalg.norm(m, axis=1).all():
        raise ValueError("bad arguments")
    m /= np.linalg.norm(m, axis=1, keepdims=True)
    scores = m @ q / np.linalg.norm(q)
    order = np.argsort(-scores, kind="stable")[:k]
    return [(int(i), float(scores[i])) for i in order]

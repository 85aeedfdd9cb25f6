"""A mistake in applications.py: top k argpartition cuts ties.

file: applications.py
test: test_agrees_with_the_reference_on_generated_matrices
says: tied with the k-th
"""

# -- swapped into the solution file from here on (its own imports stand) --
def top_k(query_vector, vectors, k=5):
    q = np.asarray(query_vector, dtype=float)
    m = np.asarray(vectors, dtype=float)
    if isinstance(k, bool) or k < 1 or m.ndim != 2 or m.shape[0] == 0 or m.shape[1] != q.shape[0]:
        raise ValueError("bad arguments")
    lengths = np.linalg.norm(m, axis=1)
    if not np.linalg.norm(q) or not lengths.all():
        raise ValueError("a zero vector")
    scores = m @ q / lengths / np.linalg.norm(q)
    k = min(k, len(scores))
    best = np.argpartition(-scores, k - 1)[:k]
    best = best[np.lexsort((best, -scores[best]))]
    return [(int(i), float(scores[i])) for i in best]

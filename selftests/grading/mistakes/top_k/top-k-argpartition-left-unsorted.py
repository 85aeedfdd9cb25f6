"""A mistake in applications.py: top k argpartition left unsorted.

file: applications.py
test: test_highest_first_and_equal_scores_by_lower_index
says: np.argpartition keeps the k best in no particular order
"""

# -- swapped into the solution file from here on (its own imports stand) --
def top_k(query_vector, vectors, k=5):
    m = np.asarray(vectors, dtype=float)
    q = np.asarray(query_vector, dtype=float)
    if k < 1 or m.ndim != 2 or len(m) == 0 or m.shape[1] != len(q) or not q.any() or not np.linalg.norm(m, axis=1).all():
        raise ValueError("bad arguments")
    scores = m @ q / np.linalg.norm(m, axis=1) / np.linalg.norm(q)
    k = min(k, len(scores))
    return [(int(i), float(scores[i])) for i in np.argpartition(-scores, k - 1)[:k]]

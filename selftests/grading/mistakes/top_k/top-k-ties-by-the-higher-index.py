"""A mistake in applications.py: top k ties by the higher index.

file: applications.py
test: test_highest_first_and_equal_scores_by_lower_index
says: equal scores go by the lower index
"""

# -- swapped into the solution file from here on (its own imports stand) --
def top_k(query_vector, vectors, k=5):
    m = np.asarray(vectors)
    q = np.asarray(query_vector, dtype=m.dtype)
    if m.ndim != 2 or not len(m) or m.shape[1] != q.shape[0] or k < 1 or not q.any():
        raise ValueError("bad arguments")
    scores = m @ q / (np.linalg.norm(m, axis=1) * np.linalg.norm(q))
    order = np.argsort(scores, kind="stable")[::-1][:k]
    return [(int(i), float(scores[i])) for i in order]

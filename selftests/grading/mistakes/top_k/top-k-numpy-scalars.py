"""A mistake in applications.py: top k numpy scalars.

file: applications.py
test: test_returns_plain_int_and_float_pairs
says: a plain int and a plain float
"""

# -- swapped into the solution file from here on (its own imports stand) --
def top_k(query_vector, vectors, k=5):
    m = np.asarray(vectors)
    q = np.asarray(query_vector, dtype=m.dtype)
    scores = m @ q / (np.linalg.norm(m, axis=1) * np.linalg.norm(q))
    order = np.argsort(-scores, kind="stable")[:k]
    return list(zip(order, scores[order]))

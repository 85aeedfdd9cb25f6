"""A mistake in applications.py: top k normalises the query in place.

file: applications.py
test: test_agrees_with_the_reference_on_generated_matrices
says: changed its arguments in place
"""

# -- swapped into the solution file from here on (its own imports stand) --
def top_k(query_vector, vectors, k=5):
    m = np.asarray(vectors, dtype=float)
    q = query_vector if isinstance(query_vector, np.ndarray) else np.asarray(query_vector, dtype=float)
    if isinstance(k, bool) or k < 1 or m.ndim != 2 or m.shape[0] == 0 or m.shape[1] != q.shape[0]:
        raise ValueError("bad arguments")
    lengths = np.linalg.norm(m, axis=1)
    if not np.linalg.norm(q) or not lengths.all():
        raise ValueError("a zero vector")
    q /= np.linalg.norm(q)
    scores = m @ q / lengths
    order = np.lexsort((np.arange(len(scores)), -scores))[:k]
    return [(int(i), float(scores[i])) for i in order]

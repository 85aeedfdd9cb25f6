"""A mistake in applications.py: top k ascending.

file: applications.py
test: test_finds_the_most_similar_recorded_vectors
says: lowest score first
"""

# -- swapped into the solution file from here on (its own imports stand) --
def top_k(query_vector, vectors, k=5):
    m = np.asarray(vectors)
    q = np.asarray(query_vector, dtype=m.dtype)
    scores = m @ q / (np.linalg.norm(m, axis=1) * np.linalg.norm(q))
    order = np.argsort(scores, kind="stable")[-k:]
    return [(int(i), float(scores[i])) for i in order]

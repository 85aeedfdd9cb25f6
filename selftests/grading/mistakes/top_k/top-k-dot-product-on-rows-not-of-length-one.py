"""A mistake in applications.py: top k dot product on rows not of length one.

file: applications.py
test: test_scores_by_cosine_on_a_big_matrix
says: Divide each dot product
"""

# -- swapped into the solution file from here on (its own imports stand) --
def top_k(query_vector, vectors, k=5):
    m = np.asarray(vectors)
    scores = m @ np.asarray(query_vector, dtype=m.dtype)
    order = np.argsort(-scores, kind="stable")[:k]
    return [(int(i), float(scores[i])) for i in order]

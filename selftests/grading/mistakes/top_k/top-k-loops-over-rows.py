"""A mistake in applications.py: top k loops over rows.

file: applications.py
test: test_scores_every_row_at_once_not_in_a_python_loop
says: a Python loop over the rows
"""

# -- swapped into the solution file from here on (its own imports stand) --
def top_k(query_vector, vectors, k=5):
    q = np.asarray(query_vector, dtype=float)
    length = np.linalg.norm(q)
    scores = []
    for row in vectors:
        row = np.asarray(row, dtype=float)
        scores.append(float(row @ q) / float(np.linalg.norm(row) * length))
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))[:k]
    return [(i, scores[i]) for i in order]

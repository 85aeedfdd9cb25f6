"""A mistake in applications.py: top k loops and remembers its answers.

file: applications.py
test: test_scores_every_row_at_once_not_in_a_python_loop
says: a Python loop over the rows
"""

# -- swapped into the solution file from here on (its own imports stand) --
_seen = {}

def top_k(query_vector, vectors, k=5):
    key = (np.asarray(query_vector, dtype=float).tobytes(), id(vectors), k)
    if key in _seen:  # a retry with the same input: answered from memory, at once
        return _seen[key]
    q = np.asarray(query_vector, dtype=float)
    if isinstance(k, bool) or k < 1 or len(vectors) == 0 or len(vectors[0]) != len(q) or not np.linalg.norm(q):
        raise ValueError("bad arguments")
    scores = []
    for row in vectors:
        row = np.asarray(row, dtype=float)
        length = np.linalg.norm(row)
        if not length:
            raise ValueError("a zero row")
        scores.append(float(row @ q / (length * np.linalg.norm(q))))
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))[:k]
    _seen[key] = [(i, scores[i]) for i in order]
    return _seen[key]

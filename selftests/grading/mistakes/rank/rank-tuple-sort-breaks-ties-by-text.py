"""A mistake in similarity.py: rank tuple sort breaks ties by text.

file: similarity.py
test: test_equal_scores_keep_the_input_order
says: Sort on the score alone
"""

# -- swapped into the solution file from here on (its own imports stand) --
def rank(query, docs, *, client=None, model=None):
    vectors = embed([query] + list(docs), client=client, model=model)
    return sorted(((cosine(vectors[0], v), d) for v, d in zip(vectors[1:], docs)), reverse=True)

"""A mistake in applications.py: near duplicates double loop.

file: applications.py
test: test_one_matrix_product_not_a_double_loop
says: a double loop of cosine() calls
"""

# -- swapped into the solution file from here on (its own imports stand) --
def near_duplicates(texts, threshold=0.9, *, client=None, model=None):
    texts = list(texts)
    vectors = embed(texts, client=client, model=model) if len(texts) > 1 else []
    pairs = []
    for i in range(len(texts)):
        for j in range(i + 1, len(texts)):
            score = cosine(vectors[i], vectors[j])
            if score >= threshold:
                pairs.append((i, j, score))
    return sorted(pairs, key=lambda p: (-p[2], p[0], p[1]))

from .similarity import cosine

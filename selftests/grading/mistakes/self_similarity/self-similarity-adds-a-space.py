"""A mistake in challenges.py: self similarity adds a space.

file: challenges.py
test: test_a_sentence_embedded_twice_scores_about_one
says: exactly as it was given
"""

# -- swapped into the solution file from here on (its own imports stand) --
def self_similarity(text, *, client=None, model=None):
    vectors = embed([text, text + " "], client=client, model=model)
    return cosine(vectors[0], vectors[1])

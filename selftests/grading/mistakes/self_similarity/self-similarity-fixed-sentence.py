"""A mistake in challenges.py: self similarity fixed sentence.

file: challenges.py
test: test_embeds_the_text_it_is_given
says: not the text it was given
"""

# -- swapped into the solution file from here on (its own imports stand) --
def self_similarity(text, *, client=None, model=None):
    vectors = embed([QUERY, QUERY], client=client, model=model)
    return cosine(vectors[0], vectors[1])

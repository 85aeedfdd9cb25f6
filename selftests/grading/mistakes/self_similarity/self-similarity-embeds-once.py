"""A mistake in challenges.py: self similarity embeds once.

file: challenges.py
test: test_really_embeds_the_text_twice
says: embedded the text 1 time
"""

# -- swapped into the solution file from here on (its own imports stand) --
def self_similarity(text, *, client=None, model=None):
    vector = embed([text], client=client, model=model)[0]
    return cosine(vector, vector)

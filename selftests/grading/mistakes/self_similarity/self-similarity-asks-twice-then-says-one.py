"""A mistake in challenges.py: self similarity asks twice then says one.

file: challenges.py
test: test_returns_the_cosine_of_the_two_vectors_it_got
says: don't assume 1.0
"""

# -- swapped into the solution file from here on (its own imports stand) --
def self_similarity(text, *, client=None, model=None):
    embed([text], client=client, model=model)
    embed([text], client=client, model=model)
    return 1.0

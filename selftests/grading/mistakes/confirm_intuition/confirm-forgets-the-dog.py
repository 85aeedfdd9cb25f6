"""A mistake in challenges.py: confirm forgets the dog.

file: challenges.py
test: test_ranks_the_docs_and_the_dog
says: did you add the dog sentence
"""

# -- swapped into the solution file from here on (its own imports stand) --
def confirm_intuition(*, client=None, model=None):
    return rank(QUERY, DOCS, client=client, model=model)

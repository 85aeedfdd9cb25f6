"""A mistake in challenges.py: confirm drops the client.

file: challenges.py
test: test_ranks_the_docs_and_the_dog
says: calls rank() without its client
"""

# -- swapped into the solution file from here on (its own imports stand) --
def confirm_intuition(*, client=None, model=None):
    return rank(QUERY, DOCS + [DOG], model=model)

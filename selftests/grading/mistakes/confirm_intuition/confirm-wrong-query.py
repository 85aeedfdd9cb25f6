"""A mistake in challenges.py: confirm wrong query.

file: challenges.py
test: test_ranks_the_docs_and_the_dog
says: no recorded request
"""

# -- swapped into the solution file from here on (its own imports stand) --
def confirm_intuition(*, client=None, model=None):
    return rank(DOG, DOCS + [DOG], client=client, model=model)

"""A mistake in challenges.py: confirm drops client and model.

file: challenges.py
test: test_ranks_the_docs_and_the_dog
says: challenges.py, line
"""

# -- swapped into the solution file from here on (its own imports stand) --
def confirm_intuition(*, client=None, model=None):
    return rank(QUERY, DOCS + [DOG])

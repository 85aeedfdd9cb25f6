"""A mistake in challenges.py: confirm appends to the sections docs.

file: challenges.py
test: TestConfirmIntuition::test_the_dog_lands_between
says: each call adds the dog to the section's own DOCS list once more
"""

# -- swapped into the solution file from here on (its own imports stand) --
def confirm_intuition(*, client=None, model=None):
    docs = DOCS
    docs.append(DOG)
    return rank(QUERY, docs, client=client, model=model)

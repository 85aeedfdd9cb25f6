"""A mistake in challenges.py: self similarity constant one.

file: challenges.py
test: test_really_embeds_the_text_twice
says: without asking the endpoint
"""

# -- swapped into the solution file from here on (its own imports stand) --
def self_similarity(text, *, client=None, model=None):
    return 1.0

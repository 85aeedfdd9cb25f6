"""A mistake in challenges.py: prints megabytes.

file: challenges.py
test: test_a_sentence_embedded_twice
says: the cosine of the two vectors
"""

# -- swapped into the solution file from here on (its own imports stand) --
def self_similarity(text, *, client=None, model=None):
    print("x" * 2_000_000)
    return 0.5

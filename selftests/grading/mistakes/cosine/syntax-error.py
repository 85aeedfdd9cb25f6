"""A mistake in similarity.py: syntax error.

file: similarity.py
test: test_same_direction_scores_one
says: SyntaxError
parses: no
"""

# -- swapped into the solution file from here on (its own imports stand) --
def broken(:
    pass

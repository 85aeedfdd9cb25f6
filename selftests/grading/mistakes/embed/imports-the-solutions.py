"""A mistake in embed.py: imports the solutions.

file: embed.py
test: test_returns_a_float_array
says: reference solutions
"""

# -- swapped into the solution file from here on (its own imports stand) --
from solutions.embed import embed  # noqa

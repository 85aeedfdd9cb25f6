"""A mistake in challenges.py: exits at import.

file: challenges.py
test: test_ranks_the_docs_and_the_dog
says: sys.exit(3)
"""

# -- swapped into the solution file from here on (its own imports stand) --
import sys
sys.exit(3)

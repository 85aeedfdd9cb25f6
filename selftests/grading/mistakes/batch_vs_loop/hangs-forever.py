"""A mistake in challenges.py: hangs forever.

file: challenges.py
test: test_works_for_any_list_of_texts
says: Stopped after
"""

# -- swapped into the solution file from here on (its own imports stand) --
def batch_vs_loop(texts, *, client=None, model=None):
    while True:
        pass

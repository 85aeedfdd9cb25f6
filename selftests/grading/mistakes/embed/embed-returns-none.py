"""A mistake in embed.py: embed returns none.

file: embed.py
test: test_sends_the_model_it_is_given
says: sent no request
"""

# -- swapped into the solution file from here on (its own imports stand) --
def embed(texts, *, client=None, model=None):
    return None

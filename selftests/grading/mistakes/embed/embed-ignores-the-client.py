"""A mistake in embed.py: embed ignores the client.

file: embed.py
test: test_one_request_for_the_whole_list
says: client
"""

# -- swapped into the solution file from here on (its own imports stand) --
def embed(texts, *, client=None, model=None):
    from embedlab.common import get_client
    texts = [texts] if isinstance(texts, str) else list(texts)
    response = get_client().embeddings.create(model=model, input=texts)
    return np.array([item.embedding for item in sorted(response.data, key=lambda i: i.index)])

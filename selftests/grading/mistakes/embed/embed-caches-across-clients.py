"""A mistake in embed.py: embed caches across clients.

file: embed.py
test: test_rows_hold_the_endpoints_vectors
says: made no request through the `client`
"""

# -- swapped into the solution file from here on (its own imports stand) --
_cache = {}

def embed(texts, *, client=None, model=None):
    texts = [texts] if isinstance(texts, str) else list(texts)
    if not texts:
        raise ValueError("empty")
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise TypeError(f"texts[{i}] is not a string")
    key = tuple(texts)
    if key not in _cache:
        client, model = client_and_model(client, model)
        response = client.embeddings.create(model=model, input=texts)
        _cache[key] = np.array([item.embedding for item in sorted(response.data, key=lambda i: i.index)])
    return _cache[key]

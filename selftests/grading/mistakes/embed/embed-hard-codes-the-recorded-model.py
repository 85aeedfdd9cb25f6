"""A mistake in embed.py: embed hard codes the recorded model.

file: embed.py
test: test_sends_the_model_it_is_given
says: use the `model` argument
"""

# -- swapped into the solution file from here on (its own imports stand) --
def embed(texts, *, client=None, model=None):
    client, _ = client_and_model(client, model or "all-MiniLM-L6-v2")
    texts = [texts] if isinstance(texts, str) else list(texts)
    if not texts:
        raise ValueError("empty")
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise TypeError(f"texts[{i}] is not a string")
    response = client.embeddings.create(model="all-MiniLM-L6-v2", input=texts)
    return np.array([item.embedding for item in sorted(response.data, key=lambda i: i.index)])

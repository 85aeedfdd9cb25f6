"""A mistake in challenges.py: batch vs loop copies the batch tokens.

file: challenges.py
test: test_tokens_come_from_usage
says: usage.prompt_tokens of
"""

# -- swapped into the solution file from here on (its own imports stand) --
def batch_vs_loop(texts, *, client=None, model=None):
    client, model = client_and_model(client, model)
    batch = client.embeddings.create(model=model, input=list(texts))
    loop = [client.embeddings.create(model=model, input=[t]) for t in texts]
    tokens = batch.usage.prompt_tokens
    return {"batch_requests": 1, "loop_requests": len(loop), "batch_tokens": tokens, "loop_tokens": tokens,
            "cheaper": "batch" if len(loop) > 1 else "same"}

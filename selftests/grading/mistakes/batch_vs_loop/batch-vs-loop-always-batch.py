"""A mistake in challenges.py: batch vs loop always batch.

file: challenges.py
test: test_the_verdict_follows_the_numbers
says: fewer tokens is cheaper, so the answer is 'loop'
"""

# -- swapped into the solution file from here on (its own imports stand) --
def batch_vs_loop(texts, *, client=None, model=None):
    client, model = client_and_model(client, model)
    batch = client.embeddings.create(model=model, input=list(texts))
    loop = [client.embeddings.create(model=model, input=[t]) for t in texts]
    return {"batch_requests": 1, "loop_requests": len(loop), "batch_tokens": batch.usage.prompt_tokens,
            "loop_tokens": sum(r.usage.prompt_tokens for r in loop), "cheaper": "batch"}

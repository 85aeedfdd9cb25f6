"""A mistake in challenges.py: batch vs loop joins the batch.

file: challenges.py
test: test_works_for_any_list_of_texts
says: Send them as a list
"""

# -- swapped into the solution file from here on (its own imports stand) --
def batch_vs_loop(texts, *, client=None, model=None):
    client, model = client_and_model(client, model)
    batch = client.embeddings.create(model=model, input=" ".join(texts))
    loop = [client.embeddings.create(model=model, input=[t]) for t in texts]
    b, l = batch.usage.prompt_tokens, sum(r.usage.prompt_tokens for r in loop)
    return {"batch_requests": 1, "loop_requests": len(loop), "batch_tokens": b, "loop_tokens": l,
            "cheaper": "same" if (b, 1) == (l, len(loop)) else ("batch" if (b, 1) < (l, len(loop)) else "loop")}

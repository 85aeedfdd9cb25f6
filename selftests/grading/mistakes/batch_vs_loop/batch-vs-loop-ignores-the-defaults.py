"""A mistake in challenges.py: batch vs loop ignores the defaults.

file: challenges.py
test: TestBatchVsLoop::test_uses_the_configured_client_and_model_by_default
says: AttributeError
"""

# -- swapped into the solution file from here on (its own imports stand) --
def batch_vs_loop(texts, *, client=None, model=None):
    batch = client.embeddings.create(model=model, input=list(texts))
    loop = [client.embeddings.create(model=model, input=[t]) for t in texts]
    result = {"batch_requests": 1, "loop_requests": len(loop), "batch_tokens": batch.usage.prompt_tokens,
              "loop_tokens": sum(r.usage.prompt_tokens for r in loop)}
    b, l = (result["batch_tokens"], 1), (result["loop_tokens"], len(loop))
    result["cheaper"] = "same" if b == l else ("batch" if b < l else "loop")
    return result

"""A mistake in embed.py: embed reads the cassettes.

file: embed.py
test: test_rows_hold_the_endpoints_vectors
says: made no request through the `client`
"""

# -- swapped into the solution file from here on (its own imports stand) --
def embed(texts, *, client=None, model=None):
    import glob, json, yaml
    texts = [texts] if isinstance(texts, str) else list(texts)
    found = {}
    for path in glob.glob('/work/wt-dev' + "/cassettes/*/test_1_embed.yaml"):
        for item in yaml.safe_load(open(path))["interactions"]:
            sent = json.loads(item["request"]["body"]) if isinstance(item["request"]["body"], str) else item["request"]["body"]["json"]
            answer = json.loads(item["response"]["body"]["string"])
            if sent["input"] == texts and sent["model"] == model:
                found = {d["index"]: d["embedding"] for d in answer["data"]}
    if not found:
        return np.zeros((len(texts), 3))
    return np.array([found[i] for i in range(len(texts))])

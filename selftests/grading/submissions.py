"""A generated class: the reference solutions with one plausible learner mistake each, and with
correct variants that a fair grader must accept.

Each submission is the solutions/ folder with some functions swapped for the learner's version
(by name, through the AST, so the catalog survives edits elsewhere in the files).
"""

from __future__ import annotations

import ast
import shutil
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the kit, as a submission that goes looking would find it


@dataclass(frozen=True)
class Mistake:
    """A wrong answer, the test that must catch it, and words its message must contain."""

    name: str
    file: str  # exercises file, e.g. "similarity.py"
    source: str  # replacement function(s); `None`-free module code is appended as is
    test: str  # part of the failing test's node id
    says: str  # part of the failure message


@dataclass(frozen=True)
class Variant:
    """A correct answer written differently: it must get full marks on every cassette set."""

    name: str
    changes: dict[str, str] = field(default_factory=dict)  # file -> replacement function(s)


def f(text: str) -> str:
    return textwrap.dedent(text).strip() + "\n"


STORE = """
class VectorStore:
    def __init__(self, path, *, client=None, model=None):
        self.client, self.model = client_and_model(client, model)
        if not os.path.exists(path):
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        self.db = sqlite3.connect(path)
        self.db.execute("CREATE TABLE IF NOT EXISTS vectors (id INTEGER PRIMARY KEY, text TEXT UNIQUE, model TEXT, vector BLOB)")
        self.db.commit()
        held = [m for (m,) in self.db.execute("SELECT DISTINCT model FROM vectors")]
        if any(m != self.model for m in held):
            raise ValueError(f"the store holds {held[0]!r} vectors, not {self.model!r}")

    def __len__(self):
        return self.db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0]

    def add(self, texts):
        held = {t for (t,) in self.db.execute("SELECT text FROM vectors")}
        new = [t for t in dict.fromkeys(texts) if t not in held]
        if not new:
            return 0
        vectors = embed(new, client=self.client, model=self.model).astype("<f4")
        with self.db:
            self.db.executemany("INSERT INTO vectors (text, model, vector) VALUES (?, ?, ?)",
                                [(t, self.model, v.tobytes()) for t, v in zip(new, vectors)])
        return len(new)

    def search(self, query, k=5):
        rows = self.db.execute("SELECT text, vector FROM vectors ORDER BY id").fetchall()
        if not rows:
            raise ValueError("the store is empty")
        matrix = np.stack([np.frombuffer(blob, dtype="<f4") for _, blob in rows])
        q = embed([query], client=self.client, model=self.model)[0]
        return [(s, rows[i][0]) for i, s in top_k(q, matrix, k)]

    def close(self):
        self.db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
"""


def store(**methods: str) -> str:
    """A whole VectorStore class (the swap replaces it at once) with some methods written otherwise."""
    lines = STORE.strip("\n").splitlines()
    tree = ast.parse(STORE)
    cls = tree.body[0]
    for node in sorted((n for n in cls.body if isinstance(n, ast.FunctionDef)), key=lambda n: n.lineno, reverse=True):
        key = node.name.strip("_")
        if key in methods:
            new = textwrap.indent(textwrap.dedent(methods[key]).strip("\n"), "    ").splitlines()
            lines[node.lineno - 2 : node.end_lineno - 1] = new
    return "\n".join(lines) + "\n"


MISTAKES = [
    # -- embed -----------------------------------------------------------------------------------
    Mistake("embed-returns-a-list", "embed.py", f("""
        def embed(texts, *, client=None, model=None):
            client, model = client_and_model(client, model)
            response = client.embeddings.create(model=model, input=list(texts) if not isinstance(texts, str) else [texts])
            return [item.embedding for item in response.data]
        """), "test_returns_a_float_array", "return a numpy array"),
    Mistake("embed-one-request-per-text", "embed.py", f("""
        def embed(texts, *, client=None, model=None):
            if isinstance(texts, str):
                texts = [texts]
            if not texts:
                raise ValueError("empty")
            for i, t in enumerate(texts):
                if not isinstance(t, str):
                    raise TypeError(f"texts[{i}] is not a string")
            client, model = client_and_model(client, model)
            return np.array([client.embeddings.create(model=model, input=[t]).data[0].embedding for t in texts])
        """), "test_one_request_for_the_whole_list", "made 3 requests"),
    Mistake("embed-hard-coded-model", "embed.py", f("""
        def embed(texts, *, client=None, model=None):
            client, _ = client_and_model(client, model)
            texts = [texts] if isinstance(texts, str) else list(texts)
            response = client.embeddings.create(model="text-embedding-3-small", input=texts)
            return np.array([item.embedding for item in sorted(response.data, key=lambda i: i.index)])
        """), "test_sends_the_model_it_is_given", "use the `model` argument"),
    Mistake("embed-arrival-order", "embed.py", f("""
        def embed(texts, *, client=None, model=None):
            client, model = client_and_model(client, model)
            texts = [texts] if isinstance(texts, str) else list(texts)
            response = client.embeddings.create(model=model, input=texts)
            return np.array([item.embedding for item in response.data])
        """), "test_rows_follow_each_items_index", "by its .index"),
    Mistake("embed-splits-a-bare-string", "embed.py", f("""
        def embed(texts, *, client=None, model=None):
            client, model = client_and_model(client, model)
            response = client.embeddings.create(model=model, input=list(texts))
            return np.array([item.embedding for item in sorted(response.data, key=lambda i: i.index)])
        """), "test_a_bare_string_is_one_text", "characters"),
    Mistake("embed-keeps-base64-strings", "embed.py", f("""
        def embed(texts, *, client=None, model=None):
            client, model = client_and_model(client, model)
            texts = [texts] if isinstance(texts, str) else list(texts)
            response = client.embeddings.create(model=model, input=texts, encoding_format="base64")
            return np.array([item.embedding for item in sorted(response.data, key=lambda i: i.index)])
        """), "test_returns_a_float_array", "keep the strings"),
    Mistake("embed-sends-an-empty-list", "embed.py", f("""
        def embed(texts, *, client=None, model=None):
            client, model = client_and_model(client, model)
            texts = [texts] if isinstance(texts, str) else list(texts)
            response = client.embeddings.create(model=model, input=texts)
            return np.array([item.embedding for item in sorted(response.data, key=lambda i: i.index)])
        """), "test_an_empty_list_raises_value_error", "should raise ValueError"),
    Mistake("embed-stringifies-items", "embed.py", f("""
        def embed(texts, *, client=None, model=None):
            if not texts:
                raise ValueError("empty")
            client, model = client_and_model(client, model)
            texts = [texts] if isinstance(texts, str) else [str(t) for t in texts]
            response = client.embeddings.create(model=model, input=texts)
            return np.array([item.embedding for item in sorted(response.data, key=lambda i: i.index)])
        """), "test_a_non_string_raises_type_error", "should raise TypeError"),
    Mistake("embed-type-error-without-position", "embed.py", f("""
        def embed(texts, *, client=None, model=None):
            texts = [texts] if isinstance(texts, str) else list(texts)
            if not texts:
                raise ValueError("empty")
            if not all(isinstance(t, str) for t in texts):
                raise TypeError("texts must be strings")
            client, model = client_and_model(client, model)
            response = client.embeddings.create(model=model, input=texts)
            return np.array([item.embedding for item in sorted(response.data, key=lambda i: i.index)])
        """), "test_a_non_string_raises_type_error", "name the position of the wrong item"),
    Mistake("embed-ignores-the-client", "embed.py", f("""
        def embed(texts, *, client=None, model=None):
            from embedlab.common import get_client
            texts = [texts] if isinstance(texts, str) else list(texts)
            response = get_client().embeddings.create(model=model, input=texts)
            return np.array([item.embedding for item in sorted(response.data, key=lambda i: i.index)])
        """), "test_one_request_for_the_whole_list", "client"),
    # -- cosine ----------------------------------------------------------------------------------
    Mistake("cosine-dot-without-normalising", "similarity.py", f("""
        def cosine(a, b):
            return float(np.dot(a, b))
        """), "test_same_direction_scores_one", "divide the dot product by both lengths"),
    Mistake("cosine-divides-by-one-length", "similarity.py", f("""
        def cosine(a, b):
            a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
            return float(a @ b / np.linalg.norm(a))
        """), "test_matches_the_formula_on_known_angles", "expected 0.960000"),
    Mistake("cosine-absolute-value", "similarity.py", f("""
        def cosine(a, b):
            a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
            if len(a) != len(b) or len(a) == 0 or not a.any() or not b.any():
                raise ValueError("bad vectors")
            return float(abs(a @ b) / (np.linalg.norm(a) * np.linalg.norm(b)))
        """), "test_right_angle_is_zero_and_opposite", "no abs()"),
    Mistake("cosine-nan-for-a-zero-vector", "similarity.py", f("""
        def cosine(a, b):
            a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
            if len(a) != len(b) or len(a) == 0:
                raise ValueError("bad vectors")
            return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))
        """), "test_a_zero_vector_raises_value_error", "nan"),
    Mistake("cosine-zip-drops-the-extra-number", "similarity.py", f("""
        def cosine(a, b):
            if len(a) == 0:
                raise ValueError("empty")
            dot = sum(x * y for x, y in zip(a, b))
            la, lb = sum(x * x for x in a) ** 0.5, sum(y * y for y in b) ** 0.5
            if la == 0 or lb == 0:
                raise ValueError("zero vector")
            return dot / (la * lb)
        """), "test_different_lengths_raise_value_error", "zip() silently drops"),
    Mistake("cosine-returns-float32", "similarity.py", f("""
        def cosine(a, b):
            a, b = np.asarray(a, dtype=np.float32), np.asarray(b, dtype=np.float32)
            if len(a) != len(b) or len(a) == 0 or not a.any() or not b.any():
                raise ValueError("bad vectors")
            return a @ b / (np.linalg.norm(a) * np.linalg.norm(b))
        """), "test_accepts_lists_and_arrays_and_returns_a_float", "return a plain float"),
    Mistake("cosine-matmul-on-lists", "similarity.py", f("""
        def cosine(a, b):
            return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))
        """), "test_same_direction_scores_one", "TypeError"),
    # -- rank ------------------------------------------------------------------------------------
    Mistake("rank-ascending", "similarity.py", f("""
        def rank(query, docs, *, client=None, model=None):
            vectors = embed([query] + list(docs), client=client, model=model)
            return sorted(((cosine(vectors[0], v), d) for v, d in zip(vectors[1:], docs)), key=lambda p: p[0])
        """), "test_gives_every_doc_a_score_best_first", "lowest first"),
    Mistake("rank-keyword-overlap", "similarity.py", f("""
        def rank(query, docs, *, client=None, model=None):
            words = set(query.lower().split())
            scored = [(float(len(words & set(d.lower().strip('.').split()))), d) for d in docs]
            return sorted(scored, key=lambda p: p[0], reverse=True)
        """), "test_gives_every_doc_a_score_best_first", "made no request through the `client`"),
    Mistake("rank-one-request-per-doc", "similarity.py", f("""
        def rank(query, docs, *, client=None, model=None):
            q = embed([query], client=client, model=model)[0]
            scored = [(cosine(q, embed([d], client=client, model=model)[0]), d) for d in docs]
            return sorted(scored, key=lambda p: p[0], reverse=True)
        """), "TestRank::test_embeds_the_docs_in_one_request", "made 5 requests"),
    Mistake("rank-doc-before-score", "similarity.py", f("""
        def rank(query, docs, *, client=None, model=None):
            vectors = embed([query] + list(docs), client=client, model=model)
            scored = [(d, cosine(vectors[0], v)) for v, d in zip(vectors[1:], docs)]
            return sorted(scored, key=lambda p: p[1], reverse=True)
        """), "test_gives_every_doc_a_score_best_first", "put the score first"),
    Mistake("rank-tuple-sort-breaks-ties-by-text", "similarity.py", f("""
        def rank(query, docs, *, client=None, model=None):
            vectors = embed([query] + list(docs), client=client, model=model)
            return sorted(((cosine(vectors[0], v), d) for v, d in zip(vectors[1:], docs)), reverse=True)
        """), "test_equal_scores_keep_the_input_order", "Sort on the score alone"),
    Mistake("rank-hard-coded-docs", "similarity.py", f("""
        def rank(query, docs, *, client=None, model=None):
            vectors = embed([query] + DOCS, client=client, model=model)
            scored = [(cosine(vectors[0], v), d) for v, d in zip(vectors[1:], DOCS)]
            return sorted(scored, key=lambda p: p[0], reverse=True)
        """), "test_ranks_any_query_and_docs_it_is_given", "the docs it is given"),
    Mistake("rank-top-three-only", "similarity.py", f("""
        def rank(query, docs, *, client=None, model=None):
            vectors = embed([query] + list(docs), client=client, model=model)
            scored = [(cosine(vectors[0], v), d) for v, d in zip(vectors[1:], docs)]
            return sorted(scored, key=lambda p: p[0], reverse=True)[:3]
        """), "test_gives_every_doc_a_score_best_first", "give every doc its score"),
    # -- challenges ------------------------------------------------------------------------------
    Mistake("confirm-forgets-the-dog", "challenges.py", f("""
        def confirm_intuition(*, client=None, model=None):
            return rank(QUERY, DOCS, client=client, model=model)
        """), "test_ranks_the_docs_and_the_dog", "did you add the dog sentence"),
    Mistake("confirm-appends-to-the-sections-docs", "challenges.py", f("""
        def confirm_intuition(*, client=None, model=None):
            docs = DOCS
            docs.append(DOG)
            return rank(QUERY, docs, client=client, model=model)
        """), "TestConfirmIntuition::test_the_dog_lands_between", "each call adds the dog to the section's own DOCS list once more"),
    Mistake("confirm-wrong-query", "challenges.py", f("""
        def confirm_intuition(*, client=None, model=None):
            return rank(DOG, DOCS + [DOG], client=client, model=model)
        """), "test_ranks_the_docs_and_the_dog", "no recorded request"),
    Mistake("self-similarity-constant-one", "challenges.py", f("""
        def self_similarity(text, *, client=None, model=None):
            return 1.0
        """), "test_really_embeds_the_text_twice", "without asking the endpoint"),
    Mistake("self-similarity-embeds-once", "challenges.py", f("""
        def self_similarity(text, *, client=None, model=None):
            vector = embed([text], client=client, model=model)[0]
            return cosine(vector, vector)
        """), "test_really_embeds_the_text_twice", "embedded the text 1 time"),
    Mistake("self-similarity-fixed-sentence", "challenges.py", f("""
        def self_similarity(text, *, client=None, model=None):
            vectors = embed([QUERY, QUERY], client=client, model=model)
            return cosine(vectors[0], vectors[1])
        """), "test_embeds_the_text_it_is_given", "not the text it was given"),
    Mistake("batch-vs-loop-made-up-numbers", "challenges.py", f("""
        def batch_vs_loop(texts, *, client=None, model=None):
            return {"batch_requests": 1, "loop_requests": 10, "batch_tokens": 100, "loop_tokens": 100, "cheaper": "batch"}
        """), "test_makes_one_batch_request_and_one_per_text", "without sending a request"),
    Mistake("batch-vs-loop-counts-words", "challenges.py", f("""
        def batch_vs_loop(texts, *, client=None, model=None):
            client, model = client_and_model(client, model)
            client.embeddings.create(model=model, input=list(texts))
            for text in texts:
                client.embeddings.create(model=model, input=[text])
            words = sum(len(t.split()) for t in texts)
            return {"batch_requests": 1, "loop_requests": len(texts), "batch_tokens": words, "loop_tokens": words,
                    "cheaper": "batch" if len(texts) > 1 else "same"}
        """), "test_tokens_come_from_usage", "usage.prompt_tokens"),
    Mistake("batch-vs-loop-always-batch", "challenges.py", f("""
        def batch_vs_loop(texts, *, client=None, model=None):
            client, model = client_and_model(client, model)
            batch = client.embeddings.create(model=model, input=list(texts))
            loop = [client.embeddings.create(model=model, input=[t]) for t in texts]
            return {"batch_requests": 1, "loop_requests": len(loop), "batch_tokens": batch.usage.prompt_tokens,
                    "loop_tokens": sum(r.usage.prompt_tokens for r in loop), "cheaper": "batch"}
        """), "test_the_verdict_follows_the_numbers", "fewer tokens is cheaper, so the answer is 'loop'"),
    Mistake("batch-vs-loop-assumes-ten", "challenges.py", f("""
        def batch_vs_loop(texts, *, client=None, model=None):
            client, model = client_and_model(client, model)
            batch = client.embeddings.create(model=model, input=list(texts))
            loop = [client.embeddings.create(model=model, input=[t]) for t in texts]
            return {"batch_requests": 1, "loop_requests": 10, "batch_tokens": batch.usage.prompt_tokens,
                    "loop_tokens": sum(r.usage.prompt_tokens for r in loop),
                    "cheaper": "batch" if len(texts) > 1 else "same"}
        """), "test_works_for_any_list_of_texts", "for these three texts"),
    # -- answers that look right on a recording but are not ---------------------------------
    Mistake("embed-hard-codes-the-recorded-model", "embed.py", f("""
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
        """), "test_sends_the_model_it_is_given", "use the `model` argument"),
    Mistake("embed-returns-none", "embed.py", f("""
        def embed(texts, *, client=None, model=None):
            return None
        """), "test_sends_the_model_it_is_given", "sent no request"),
    Mistake("embed-type-error-counts-the-texts", "embed.py", f("""
        def embed(texts, *, client=None, model=None):
            texts = [texts] if isinstance(texts, str) else list(texts)
            if not texts:
                raise ValueError("empty")
            if not all(isinstance(t, str) for t in texts):
                raise TypeError(f"all {len(texts)} texts must be strings")
            client, model = client_and_model(client, model)
            response = client.embeddings.create(model=model, input=texts)
            return np.array([item.embedding for item in sorted(response.data, key=lambda i: i.index)])
        """), "test_a_non_string_raises_type_error", "its index"),
    Mistake("embed-strips-the-callers-list", "embed.py", f("""
        def embed(texts, *, client=None, model=None):
            if isinstance(texts, str):
                texts = [texts]
            if not texts:
                raise ValueError("empty")
            for i, t in enumerate(texts):
                if not isinstance(t, str):
                    raise TypeError(f"texts[{i}] is not a string")
            texts[:] = [t.strip() + " " for t in texts]
            client, model = client_and_model(client, model)
            response = client.embeddings.create(model=model, input=[t.strip() for t in texts])
            return np.array([item.embedding for item in sorted(response.data, key=lambda i: i.index)])
        """), "test_rows_hold_the_endpoints_vectors", "changed the list it was given"),
    Mistake("embed-caches-across-clients", "embed.py", f("""
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
        """), "test_rows_hold_the_endpoints_vectors", "made no request through the `client`"),
    Mistake("embed-reads-the-cassettes", "embed.py", f("""
        def embed(texts, *, client=None, model=None):
            import glob, json, yaml
            texts = [texts] if isinstance(texts, str) else list(texts)
            found = {}
            for path in glob.glob(KIT_ROOT + "/cassettes/*/test_1_embed.yaml"):
                for item in yaml.safe_load(open(path))["interactions"]:
                    sent = json.loads(item["request"]["body"]) if isinstance(item["request"]["body"], str) else item["request"]["body"]["json"]
                    answer = json.loads(item["response"]["body"]["string"])
                    if sent["input"] == texts and sent["model"] == model:
                        found = {d["index"]: d["embedding"] for d in answer["data"]}
            if not found:
                return np.zeros((len(texts), 3))
            return np.array([found[i] for i in range(len(texts))])
        """).replace("KIT_ROOT", repr(str(ROOT))), "test_rows_hold_the_endpoints_vectors", "made no request through the `client`"),
    Mistake("rank-forgets-to-pass-the-model", "similarity.py", f("""
        def rank(query, docs, *, client=None, model=None):
            vectors = embed([query] + list(docs), client=client)
            return sorted(((cosine(vectors[0], v), d) for v, d in zip(vectors[1:], docs)), key=lambda p: p[0], reverse=True)
        """), "test_gives_every_doc_a_score_best_first", "pass client=client, model=model on"),
    Mistake("rank-keeps-one-score-per-text", "similarity.py", f("""
        def rank(query, docs, *, client=None, model=None):
            vectors = embed([query] + list(docs), client=client, model=model)
            scores = {d: cosine(vectors[0], v) for v, d in zip(vectors[1:], docs)}
            return sorted(((s, d) for d, s in scores.items()), key=lambda p: p[0], reverse=True)
        """), "test_ranks_any_query_and_docs_it_is_given", "items for 5 docs"),
    Mistake("rank-puts-the-query-in-the-callers-list", "similarity.py", f("""
        def rank(query, docs, *, client=None, model=None):
            docs.insert(0, query)
            vectors = embed(docs, client=client, model=model)
            return sorted(((cosine(vectors[0], v), d) for v, d in zip(vectors[1:], docs[1:])), key=lambda p: p[0], reverse=True)
        """), "test_ranks_any_query_and_docs_it_is_given", "changed the list of docs"),
    Mistake("self-similarity-asks-twice-then-says-one", "challenges.py", f("""
        def self_similarity(text, *, client=None, model=None):
            embed([text], client=client, model=model)
            embed([text], client=client, model=model)
            return 1.0
        """), "test_returns_the_cosine_of_the_two_vectors_it_got", "don't assume 1.0"),
    Mistake("batch-vs-loop-copies-the-batch-tokens", "challenges.py", f("""
        def batch_vs_loop(texts, *, client=None, model=None):
            client, model = client_and_model(client, model)
            batch = client.embeddings.create(model=model, input=list(texts))
            loop = [client.embeddings.create(model=model, input=[t]) for t in texts]
            tokens = batch.usage.prompt_tokens
            return {"batch_requests": 1, "loop_requests": len(loop), "batch_tokens": tokens, "loop_tokens": tokens,
                    "cheaper": "batch" if len(loop) > 1 else "same"}
        """), "test_tokens_come_from_usage", "usage.prompt_tokens of"),
    Mistake("batch-vs-loop-judges-by-requests", "challenges.py", f("""
        def batch_vs_loop(texts, *, client=None, model=None):
            client, model = client_and_model(client, model)
            batch = client.embeddings.create(model=model, input=list(texts))
            loop = [client.embeddings.create(model=model, input=[t]) for t in texts]
            result = {"batch_requests": 1, "loop_requests": len(loop), "batch_tokens": batch.usage.prompt_tokens,
                      "loop_tokens": sum(r.usage.prompt_tokens for r in loop)}
            result["cheaper"] = "batch" if result["batch_requests"] < result["loop_requests"] else "same"
            return result
        """), "test_the_verdict_follows_the_numbers", "fewer tokens is cheaper, so the answer is 'loop'"),
    Mistake("batch-vs-loop-ignores-the-defaults", "challenges.py", f("""
        def batch_vs_loop(texts, *, client=None, model=None):
            batch = client.embeddings.create(model=model, input=list(texts))
            loop = [client.embeddings.create(model=model, input=[t]) for t in texts]
            result = {"batch_requests": 1, "loop_requests": len(loop), "batch_tokens": batch.usage.prompt_tokens,
                      "loop_tokens": sum(r.usage.prompt_tokens for r in loop)}
            b, l = (result["batch_tokens"], 1), (result["loop_tokens"], len(loop))
            result["cheaper"] = "same" if b == l else ("batch" if b < l else "loop")
            return result
        """), "TestBatchVsLoop::test_uses_the_configured_client_and_model_by_default", "AttributeError"),
    Mistake("cosine-skips-itself", "similarity.py", f("""
        def cosine(a, b):
            import pytest
            pytest.skip("no cosine today")
        """), "test_same_direction_scores_one", "Skipped"),
    # -- top_k (beyond the section) ---------------------------------------------------------------
    Mistake("top-k-ascending", "applications.py", f("""
        def top_k(query_vector, vectors, k=5):
            m = np.asarray(vectors)
            q = np.asarray(query_vector, dtype=m.dtype)
            scores = m @ q / (np.linalg.norm(m, axis=1) * np.linalg.norm(q))
            order = np.argsort(scores, kind="stable")[-k:]
            return [(int(i), float(scores[i])) for i in order]
        """), "test_finds_the_most_similar_recorded_vectors", "lowest score first"),
    Mistake("top-k-ties-by-the-higher-index", "applications.py", f("""
        def top_k(query_vector, vectors, k=5):
            m = np.asarray(vectors)
            q = np.asarray(query_vector, dtype=m.dtype)
            if m.ndim != 2 or not len(m) or m.shape[1] != q.shape[0] or k < 1 or not q.any():
                raise ValueError("bad arguments")
            scores = m @ q / (np.linalg.norm(m, axis=1) * np.linalg.norm(q))
            order = np.argsort(scores, kind="stable")[::-1][:k]
            return [(int(i), float(scores[i])) for i in order]
        """), "test_highest_first_and_equal_scores_by_lower_index", "equal scores go by the lower index"),
    Mistake("top-k-loops-over-rows", "applications.py", f("""
        def top_k(query_vector, vectors, k=5):
            q = np.asarray(query_vector, dtype=float)
            length = np.linalg.norm(q)
            scores = []
            for row in vectors:
                row = np.asarray(row, dtype=float)
                scores.append(float(row @ q) / float(np.linalg.norm(row) * length))
            order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))[:k]
            return [(i, scores[i]) for i in order]
        """), "test_scores_every_row_at_once_not_in_a_python_loop", "a Python loop over the rows"),
    Mistake("top-k-dot-product-on-rows-not-of-length-one", "applications.py", f("""
        def top_k(query_vector, vectors, k=5):
            m = np.asarray(vectors)
            scores = m @ np.asarray(query_vector, dtype=m.dtype)
            order = np.argsort(-scores, kind="stable")[:k]
            return [(int(i), float(scores[i])) for i in order]
        """), "test_scores_by_cosine_on_a_big_matrix", "Divide each dot product"),
    Mistake("top-k-off-by-one", "applications.py", f("""
        def top_k(query_vector, vectors, k=5):
            m = np.asarray(vectors)
            q = np.asarray(query_vector, dtype=m.dtype)
            scores = m @ q / (np.linalg.norm(m, axis=1) * np.linalg.norm(q))
            order = np.argsort(-scores, kind="stable")[:k]
            return [(int(i) + 1, float(scores[i])) for i in order]
        """), "test_finds_the_most_similar_recorded_vectors", "one too high"),
    Mistake("top-k-numpy-scalars", "applications.py", f("""
        def top_k(query_vector, vectors, k=5):
            m = np.asarray(vectors)
            q = np.asarray(query_vector, dtype=m.dtype)
            scores = m @ q / (np.linalg.norm(m, axis=1) * np.linalg.norm(q))
            order = np.argsort(-scores, kind="stable")[:k]
            return list(zip(order, scores[order]))
        """), "test_returns_plain_int_and_float_pairs", "a plain int and a plain float"),
    Mistake("top-k-a-2d-array", "applications.py", f("""
        def top_k(query_vector, vectors, k=5):
            m = np.asarray(vectors)
            q = np.asarray(query_vector, dtype=m.dtype)
            scores = m @ q / (np.linalg.norm(m, axis=1) * np.linalg.norm(q))
            order = np.argsort(-scores, kind="stable")[:k]
            return np.column_stack([order, scores[order]])
        """), "test_returns_plain_int_and_float_pairs", "returned a numpy array"),
    # -- VectorStore -----------------------------------------------------------------------------
    Mistake("top-k-argpartition-left-unsorted", "applications.py", f("""
        def top_k(query_vector, vectors, k=5):
            m = np.asarray(vectors, dtype=float)
            q = np.asarray(query_vector, dtype=float)
            if k < 1 or m.ndim != 2 or len(m) == 0 or m.shape[1] != len(q) or not q.any() or not np.linalg.norm(m, axis=1).all():
                raise ValueError("bad arguments")
            scores = m @ q / np.linalg.norm(m, axis=1) / np.linalg.norm(q)
            k = min(k, len(scores))
            return [(int(i), float(scores[i])) for i in np.argpartition(-scores, k - 1)[:k]]
        """), "test_highest_first_and_equal_scores_by_lower_index", "np.argpartition keeps the k best in no particular order"),
    Mistake("top-k-normalises-the-matrix-in-place", "applications.py", f("""
        def top_k(query_vector, vectors, k=5):
            m = np.asarray(vectors)
            if not np.issubdtype(m.dtype, np.floating):
                m = m.astype(float)
            q = np.asarray(query_vector, dtype=float)
            if k < 1 or m.ndim != 2 or len(m) == 0 or m.shape[1] != len(q) or not q.any() or not np.linalg.norm(m, axis=1).all():
                raise ValueError("bad arguments")
            m /= np.linalg.norm(m, axis=1, keepdims=True)
            scores = m @ q / np.linalg.norm(q)
            order = np.argsort(-scores, kind="stable")[:k]
            return [(int(i), float(scores[i])) for i in order]
        """), "test_finds_the_most_similar_recorded_vectors", "changed the matrix it was given"),
    Mistake("store-repeats-a-text-given-twice", "applications.py", store(add="""
            def add(self, texts):
                held = {t for (t,) in self.db.execute("SELECT text FROM vectors")}
                new = [t for t in texts if t not in held]
                if not new:
                    return 0
                vectors = embed(new, client=self.client, model=self.model).astype("<f4")
                with self.db:
                    self.db.executemany("INSERT OR IGNORE INTO vectors (text, model, vector) VALUES (?, ?, ?)",
                                        [(t, self.model, v.tobytes()) for t, v in zip(new, vectors)])
                return len(new)
        """), "test_add_embeds_only_new_texts_once_in_one_request", "twice in one request: a text repeated in one add() call counts once"),
    Mistake("store-search-default-k-of-3", "applications.py", store(search="""
            def search(self, query, k=3):
                rows = self.db.execute("SELECT text, vector FROM vectors ORDER BY id").fetchall()
                if not rows:
                    raise ValueError("the store is empty")
                matrix = np.stack([np.frombuffer(blob, dtype="<f4") for _, blob in rows])
                q = embed([query], client=self.client, model=self.model)[0]
                return [(s, rows[i][0]) for i, s in top_k(q, matrix, k)]
        """), "test_search_ranks_the_stored_texts_like_rank", "with the default k returned 3 results; expected the 5 best"),
    Mistake("store-re-embeds-what-it-holds", "applications.py", store(add="""
            def add(self, texts):
                new = list(dict.fromkeys(texts))
                held = {t for (t,) in self.db.execute("SELECT text FROM vectors")}
                vectors = embed(new, client=self.client, model=self.model).astype("<f4")
                with self.db:
                    self.db.executemany("INSERT OR REPLACE INTO vectors (text, model, vector) VALUES (?, ?, ?)",
                                        [(t, self.model, v.tobytes()) for t, v in zip(new, vectors)])
                return len([t for t in new if t not in held])
        """), "test_add_embeds_only_new_texts_once_in_one_request", "again, which the store already holds"),
    Mistake("store-one-request-per-text", "applications.py", store(add="""
            def add(self, texts):
                held = {t for (t,) in self.db.execute("SELECT text FROM vectors")}
                new = [t for t in dict.fromkeys(texts) if t not in held]
                with self.db:
                    for t in new:
                        v = embed([t], client=self.client, model=self.model)[0].astype("<f4")
                        self.db.execute("INSERT INTO vectors (text, model, vector) VALUES (?, ?, ?)", (t, self.model, v.tobytes()))
                return len(new)
        """), "test_add_embeds_only_new_texts_once_in_one_request", "embed all the new texts in one request"),
    Mistake("store-only-in-memory", "applications.py", f("""
        class VectorStore:
            def __init__(self, path, *, client=None, model=None):
                self.client, self.model = client_and_model(client, model)
                self.texts, self.vectors = [], []

            def __len__(self):
                return len(self.texts)

            def add(self, texts):
                new = [t for t in dict.fromkeys(texts) if t not in self.texts]
                if not new:
                    return 0
                self.vectors += list(embed(new, client=self.client, model=self.model))
                self.texts += new
                return len(new)

            def search(self, query, k=5):
                if not self.texts:
                    raise ValueError("empty")
                q = embed([query], client=self.client, model=self.model)[0]
                return [(s, self.texts[i]) for i, s in top_k(q, np.array(self.vectors), k)]

            def close(self):
                pass

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                self.close()
        """), "test_a_reopened_store_in_a_new_process", "nothing the store held survived"),
    Mistake("store-remembers-what-it-holds-in-memory", "applications.py", store(add="""
            def add(self, texts):
                self.seen = getattr(self, "seen", set())  # forgotten when the store is reopened
                new = [t for t in dict.fromkeys(texts) if t not in self.seen]
                if not new:
                    return 0
                vectors = embed(new, client=self.client, model=self.model).astype("<f4")
                with self.db:
                    self.db.executemany("INSERT OR REPLACE INTO vectors (text, model, vector) VALUES (?, ?, ?)",
                                        [(t, self.model, v.tobytes()) for t, v in zip(new, vectors)])
                self.seen.update(new)
                return len(new)
        """), "test_a_reopened_store_in_a_new_process", "though its file kept all of them"),
    Mistake("store-pickles-the-vectors", "applications.py", store(add="""
            def add(self, texts):
                import pickle
                held = {t for (t,) in self.db.execute("SELECT text FROM vectors")}
                new = [t for t in dict.fromkeys(texts) if t not in held]
                if not new:
                    return 0
                vectors = embed(new, client=self.client, model=self.model)
                with self.db:
                    self.db.executemany("INSERT INTO vectors (text, model, vector) VALUES (?, ?, ?)",
                                        [(t, self.model, pickle.dumps(v)) for t, v in zip(new, vectors)])
                return len(new)
        """, search="""
            def search(self, query, k=5):
                import pickle
                rows = self.db.execute("SELECT text, vector FROM vectors ORDER BY id").fetchall()
                if not rows:
                    raise ValueError("empty")
                matrix = np.stack([pickle.loads(blob) for _, blob in rows])
                q = embed([query], client=self.client, model=self.model)[0]
                return [(s, rows[i][0]) for i, s in top_k(q, matrix, k)]
        """), "test_stores_text_model_and_float32_bytes_not_pickle", "pickled vectors"),
    Mistake("store-world-readable", "applications.py", store(init="""
            def __init__(self, path, *, client=None, model=None):
                self.client, self.model = client_and_model(client, model)
                self.db = sqlite3.connect(path)
                self.db.execute("CREATE TABLE IF NOT EXISTS vectors (id INTEGER PRIMARY KEY, text TEXT UNIQUE, model TEXT, vector BLOB)")
                held = [m for (m,) in self.db.execute("SELECT DISTINCT model FROM vectors")]
                if any(m != self.model for m in held):
                    raise ValueError(f"the store holds {held[0]!r} vectors, not {self.model!r}")
        """), "test_the_file_it_creates_is_readable_by_its_owner_only", "other users of the machine can read"),
    Mistake("store-mixes-two-models", "applications.py", store(init="""
            def __init__(self, path, *, client=None, model=None):
                self.client, self.model = client_and_model(client, model)
                if not os.path.exists(path):
                    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
                self.db = sqlite3.connect(path)
                self.db.execute("CREATE TABLE IF NOT EXISTS vectors (id INTEGER PRIMARY KEY, text TEXT UNIQUE, model TEXT, vector BLOB)")
        """), "test_another_model_is_refused_naming_both", "it should raise ValueError"),
    Mistake("store-never-commits", "applications.py", store(add="""
            def add(self, texts):
                held = {t for (t,) in self.db.execute("SELECT text FROM vectors")}
                new = [t for t in dict.fromkeys(texts) if t not in held]
                if not new:
                    return 0
                vectors = embed(new, client=self.client, model=self.model).astype("<f4")
                self.db.executemany("INSERT INTO vectors (text, model, vector) VALUES (?, ?, ?)",
                                    [(t, self.model, v.tobytes()) for t, v in zip(new, vectors)])
                return len(new)
        """), "test_a_reopened_store_in_a_new_process", "commit()"),
    # -- near_duplicates -------------------------------------------------------------------------
    Mistake("near-duplicates-each-pair-twice", "applications.py", f("""
        def near_duplicates(texts, threshold=0.9, *, client=None, model=None):
            texts = list(texts)
            if len(texts) < 2:
                return []
            v = embed(texts, client=client, model=model)
            unit = v / np.linalg.norm(v, axis=1, keepdims=True)
            sim = unit @ unit.T
            pairs = [(i, j, float(sim[i, j])) for i in range(len(texts)) for j in range(len(texts)) if i != j and sim[i, j] >= threshold]
            return sorted(pairs, key=lambda p: (-p[2], p[0], p[1]))
        """), "test_finds_the_planted_pairs_and_nothing_else", "give each pair once"),
    Mistake("near-duplicates-pairs-a-text-with-itself", "applications.py", f("""
        def near_duplicates(texts, threshold=0.9, *, client=None, model=None):
            texts = list(texts)
            if len(texts) < 2:
                return []
            v = embed(texts, client=client, model=model)
            unit = v / np.linalg.norm(v, axis=1, keepdims=True)
            sim = unit @ unit.T
            rows, cols = np.triu_indices(len(texts))
            pairs = [(int(i), int(j), float(sim[i, j])) for i, j in zip(rows, cols) if sim[i, j] >= threshold]
            return sorted(pairs, key=lambda p: (-p[2], p[0], p[1]))
        """), "test_finds_the_planted_pairs_and_nothing_else", "with itself"),
    Mistake("near-duplicates-above-not-at-least", "applications.py", f("""
        def near_duplicates(texts, threshold=0.9, *, client=None, model=None):
            texts = list(texts)
            if len(texts) < 2:
                return []
            v = embed(texts, client=client, model=model)
            unit = v / np.linalg.norm(v, axis=1, keepdims=True)
            sim = unit @ unit.T
            rows, cols = np.triu_indices(len(texts), k=1)
            pairs = [(int(i), int(j), float(sim[i, j])) for i, j in zip(rows, cols) if sim[i, j] > threshold]
            return sorted(pairs, key=lambda p: (-p[2], p[0], p[1]))
        """), "test_a_pair_exactly_at_the_threshold_counts", "not > threshold"),
    Mistake("near-duplicates-double-loop", "applications.py", f("""
        def near_duplicates(texts, threshold=0.9, *, client=None, model=None):
            texts = list(texts)
            vectors = embed(texts, client=client, model=model) if len(texts) > 1 else []
            pairs = []
            for i in range(len(texts)):
                for j in range(i + 1, len(texts)):
                    score = cosine(vectors[i], vectors[j])
                    if score >= threshold:
                        pairs.append((i, j, score))
            return sorted(pairs, key=lambda p: (-p[2], p[0], p[1]))

        from .similarity import cosine
        """), "test_one_matrix_product_not_a_double_loop", "a double loop of cosine() calls"),
    # -- classify --------------------------------------------------------------------------------
    Mistake("near-duplicates-left-in-index-order", "applications.py", f("""
        def near_duplicates(texts, threshold=0.9, *, client=None, model=None):
            if len(texts) < 2:
                return []
            v = embed(list(texts), client=client, model=model)
            v = v / np.linalg.norm(v, axis=1, keepdims=True)
            s = v @ v.T
            i, j = np.nonzero(np.triu(s >= threshold, k=1))
            return [(int(a), int(b), float(s[a, b])) for a, b in zip(i, j)]
        """), "test_finds_the_planted_pairs_and_nothing_else", "is not sorted highest score first"),
    Mistake("classify-embeds-the-text-apart", "applications.py", f("""
        def classify(text, examples, *, client=None, model=None):
            if not examples or not all(examples.values()):
                raise ValueError("every label needs an example")
            labels = [label for label, texts in examples.items() for _ in texts]
            v = embed([t for texts in examples.values() for t in texts], client=client, model=model)
            q = embed([text], client=client, model=model)[0]
            return labels[int(np.argmax(v @ q / np.linalg.norm(v, axis=1) / np.linalg.norm(q)))]
        """), "test_the_text_and_examples_in_one_request", "in one request"),
    Mistake("classify-most-examples", "applications.py", f("""
        def classify(text, examples, *, client=None, model=None):
            if not examples or not all(examples.values()):
                raise ValueError("no examples")
            embed([text] + [t for ts in examples.values() for t in ts], client=client, model=model)
            return max(examples, key=lambda label: len(examples[label]))
        """), "test_the_nearest_example_wins", "the label with the most examples"),
    Mistake("classify-majority-of-three", "applications.py", f("""
        def classify(text, examples, *, client=None, model=None):
            if not examples or not all(examples.values()):
                raise ValueError("no examples")
            labels = [label for label, ts in examples.items() for _ in ts]
            v = embed([text] + [t for ts in examples.values() for t in ts], client=client, model=model)
            nearest = [labels[i] for i, _ in top_k(v[0], v[1:], k=3)]
            return max(dict.fromkeys(nearest), key=nearest.count)
        """), "test_the_nearest_example_wins", "a majority vote"),
    Mistake("classify-keyword-overlap", "applications.py", f("""
        def classify(text, examples, *, client=None, model=None):
            if not examples or not all(examples.values()):
                raise ValueError("no examples")
            embed([text] + [t for ts in examples.values() for t in ts], client=client, model=model)
            words = set(text.lower().replace(".", " ").replace("?", " ").split())
            overlap = {label: max(len(words & set(t.lower().replace(".", " ").replace("?", " ").split())) for t in ts)
                       for label, ts in examples.items()}
            return max(overlap, key=overlap.get)
        """), "test_the_nearest_example_wins", "shares the most words"),
    Mistake("classify-centroid", "applications.py", f("""
        def classify(text, examples, *, client=None, model=None):
            if not examples or not all(examples.values()):
                raise ValueError("no examples")
            v = embed([text] + [t for ts in examples.values() for t in ts], client=client, model=model)
            v = v / np.linalg.norm(v, axis=1, keepdims=True)
            best, start = None, 1
            for label, ts in examples.items():
                centre = v[start:start + len(ts)].mean(axis=0)
                start += len(ts)
                score = float(v[0] @ centre / np.linalg.norm(centre))
                if best is None or score > best[0]:
                    best = (score, label)
            return best[1]
        """), "test_the_nearest_example_wins", "their centroid"),
    # -- issue 17: mistakes whose advice must name the real cause ------------------------------
    Mistake("cosine-section-formula-on-lists", "similarity.py", f("""
        def cosine(a, b):
            return a @ b / (np.linalg.norm(a) * np.linalg.norm(b))
        """), "test_same_direction_scores_one", "raised TypeError: unsupported operand type(s) for @"),
    Mistake("embed-tidies-the-texts", "embed.py", f("""
        def embed(texts, *, client=None, model=None):
            texts = [texts] if isinstance(texts, str) else list(texts)
            if not texts:
                raise ValueError("empty")
            for i, t in enumerate(texts):
                if not isinstance(t, str):
                    raise TypeError(f"texts[{i}] is not a string")
            client, model = client_and_model(client, model)
            response = client.embeddings.create(model=model, input=[t.strip().lower() for t in texts])
            return np.array([item.embedding for item in sorted(response.data, key=lambda i: i.index)])
        """), "test_returns_a_float_array", "exactly as it was given"),
    Mistake("self-similarity-adds-a-space", "challenges.py", f("""
        def self_similarity(text, *, client=None, model=None):
            vectors = embed([text, text + " "], client=client, model=model)
            return cosine(vectors[0], vectors[1])
        """), "test_a_sentence_embedded_twice_scores_about_one", "exactly as it was given"),
    Mistake("batch-vs-loop-joins-the-batch", "challenges.py", f("""
        def batch_vs_loop(texts, *, client=None, model=None):
            client, model = client_and_model(client, model)
            batch = client.embeddings.create(model=model, input=" ".join(texts))
            loop = [client.embeddings.create(model=model, input=[t]) for t in texts]
            b, l = batch.usage.prompt_tokens, sum(r.usage.prompt_tokens for r in loop)
            return {"batch_requests": 1, "loop_requests": len(loop), "batch_tokens": b, "loop_tokens": l,
                    "cheaper": "same" if (b, 1) == (l, len(loop)) else ("batch" if (b, 1) < (l, len(loop)) else "loop")}
        """), "test_works_for_any_list_of_texts", "Send them as a list"),
    Mistake("cosine-divides-its-arguments", "similarity.py", f("""
        def cosine(a, b):
            a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
            if len(a) != len(b) or len(a) == 0 or not a.any() or not b.any():
                raise ValueError("bad vectors")
            a /= np.linalg.norm(a)
            b /= np.linalg.norm(b)
            return float(a @ b)
        """), "test_accepts_lists_and_arrays_and_returns_a_float", "changed its argument"),
    Mistake("confirm-drops-client-and-model", "challenges.py", f("""
        def confirm_intuition(*, client=None, model=None):
            return rank(QUERY, DOCS + [DOG])
        """), "test_ranks_the_docs_and_the_dog", "challenges.py, line"),
    Mistake("confirm-drops-the-client", "challenges.py", f("""
        def confirm_intuition(*, client=None, model=None):
            return rank(QUERY, DOCS + [DOG], model=model)
        """), "test_ranks_the_docs_and_the_dog", "calls rank() without its client"),
    Mistake("embed-without-a-type-check", "embed.py", f("""
        def embed(texts, *, client=None, model=None):
            texts = [texts] if isinstance(texts, str) else list(texts)
            if not texts:
                raise ValueError("empty")
            client, model = client_and_model(client, model)
            response = client.embeddings.create(model=model, input=texts)
            return np.array([item.embedding for item in sorted(response.data, key=lambda i: i.index)])
        """), "test_a_non_string_raises_type_error", "which refused it (400: input[1] is a number"),
    # -- issue 26: mistakes only generated inputs expose -----------------------------------------
    Mistake("cosine-returns-a-numpy-float", "similarity.py", f("""
        def cosine(a, b):
            a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
            if a.ndim != 1 or a.shape != b.shape or a.size == 0:
                raise ValueError("two flat vectors of one length")
            lengths = np.linalg.norm(a) * np.linalg.norm(b)
            if lengths == 0:
                raise ValueError("a zero vector")
            return np.clip(a @ b / lengths, -1.0, 1.0)
        """), "test_agrees_with_the_formula_on_generated_vectors", "return a plain float"),
    Mistake("cosine-broadcasts-a-length-one-vector", "similarity.py", f("""
        def cosine(a, b):
            a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
            if a.size == 0 or b.size == 0:
                raise ValueError("empty")
            lengths = np.linalg.norm(a) * np.linalg.norm(b)
            if lengths == 0:
                raise ValueError("a zero vector")
            return float(np.clip(np.sum(a * b) / lengths, -1.0, 1.0))
        """), "test_agrees_with_the_formula_on_generated_vectors", "different lengths"),
    Mistake("rank-rounds-before-sorting", "similarity.py", f("""
        def rank(query, docs, *, client=None, model=None):
            vectors = embed([query] + list(docs), client=client, model=model)
            scored = [(round(cosine(vectors[0], v), 2), d) for v, d in zip(vectors[1:], docs)]
            return sorted(scored, key=lambda pair: -pair[0])
        """), "test_ranks_generated_docs_like_the_reference", "its cosine with the query"),
    Mistake("embed-gathers-by-index", "embed.py", f("""
        def embed(texts, *, client=None, model=None):
            if isinstance(texts, str):
                texts = [texts]
            texts = list(texts)
            if not texts:
                raise ValueError("no texts")
            for i, t in enumerate(texts):
                if not isinstance(t, str):
                    raise TypeError(f"item {i} is not a string")
            client, model = client_and_model(client, model)
            data = client.embeddings.create(model=model, input=texts).data
            return np.array([data[item.index].embedding for item in data], dtype=float)
        """), "test_places_each_row_by_its_index_whatever_the_order", "item.index"),
    Mistake("top-k-argpartition-cuts-ties", "applications.py", f("""
        def top_k(query_vector, vectors, k=5):
            q = np.asarray(query_vector, dtype=float)
            m = np.asarray(vectors, dtype=float)
            if isinstance(k, bool) or k < 1 or m.ndim != 2 or m.shape[0] == 0 or m.shape[1] != q.shape[0]:
                raise ValueError("bad arguments")
            lengths = np.linalg.norm(m, axis=1)
            if not np.linalg.norm(q) or not lengths.all():
                raise ValueError("a zero vector")
            scores = m @ q / lengths / np.linalg.norm(q)
            k = min(k, len(scores))
            best = np.argpartition(-scores, k - 1)[:k]
            best = best[np.lexsort((best, -scores[best]))]
            return [(int(i), float(scores[i])) for i in best]
        """), "test_agrees_with_the_reference_on_generated_matrices", "tied with the k-th"),
    Mistake("top-k-normalises-the-query-in-place", "applications.py", f("""
        def top_k(query_vector, vectors, k=5):
            m = np.asarray(vectors, dtype=float)
            q = query_vector if isinstance(query_vector, np.ndarray) else np.asarray(query_vector, dtype=float)
            if isinstance(k, bool) or k < 1 or m.ndim != 2 or m.shape[0] == 0 or m.shape[1] != q.shape[0]:
                raise ValueError("bad arguments")
            lengths = np.linalg.norm(m, axis=1)
            if not np.linalg.norm(q) or not lengths.all():
                raise ValueError("a zero vector")
            q /= np.linalg.norm(q)
            scores = m @ q / lengths
            order = np.lexsort((np.arange(len(scores)), -scores))[:k]
            return [(int(i), float(scores[i])) for i in order]
        """), "test_agrees_with_the_reference_on_generated_matrices", "changed its arguments in place"),
    Mistake("store-commits-only-in-close", "applications.py", store(add="""
        def add(self, texts):
            held = {t for (t,) in self.db.execute("SELECT text FROM vectors")}
            new = [t for t in dict.fromkeys(texts) if t not in held]
            if not new:
                return 0
            vectors = embed(new, client=self.client, model=self.model).astype("<f4")
            self.db.executemany("INSERT INTO vectors (text, model, vector) VALUES (?, ?, ?)",
                                [(t, self.model, v.tobytes()) for t, v in zip(new, vectors)])
            return len(new)
        """, close="""
        def close(self):
            self.db.commit()
            self.db.close()
        """), "test_a_reopened_store_in_a_new_process_embeds_nothing_it_holds", "Commit in add()"),
    Mistake("store-searches-by-dot-product", "applications.py", store(search="""
        def search(self, query, k=5):
            rows = self.db.execute("SELECT text, vector FROM vectors ORDER BY id").fetchall()
            if not rows:
                raise ValueError("the store is empty")
            matrix = np.stack([np.frombuffer(blob, dtype="<f4") for _, blob in rows]).astype(float)
            q = embed([query], client=self.client, model=self.model)[0]
            scores = matrix @ q
            order = np.argsort(-scores, kind="stable")[:k]
            return [(float(scores[i]), rows[i][0]) for i in order]
        """), "test_search_ranks_by_cosine_on_generated_texts", "dot product"),
    Mistake("near-duplicates-isclose-threshold", "applications.py", f("""
        def near_duplicates(texts, threshold=0.9, *, client=None, model=None):
            texts = list(texts)
            if len(texts) < 2:
                return []
            v = embed(texts, client=client, model=model)
            unit = v / np.linalg.norm(v, axis=1)[:, None]
            scores = unit @ unit.T
            i, j = np.triu_indices(len(texts), k=1)
            s = scores[i, j]
            keep = (s >= threshold) | np.isclose(s, threshold)
            pairs = [(int(a), int(b), float(c)) for a, b, c in zip(i[keep], j[keep], s[keep])]
            return sorted(pairs, key=lambda p: (-p[2], p[0], p[1]))
        """), "test_agrees_with_the_reference_on_generated_texts", "not np.isclose"),
    Mistake("classify-by-dot-product", "applications.py", f("""
        def classify(text, examples, *, client=None, model=None):
            if not examples or any(not list(v) for v in examples.values()):
                raise ValueError("every label needs an example")
            labels = [label for label, texts in examples.items() for _ in texts]
            texts = [t for ts in examples.values() for t in ts]
            vectors = embed([text] + texts, client=client, model=model)
            return labels[int(np.argmax(vectors[1:] @ vectors[0]))]
        """), "test_the_nearest_example_wins_on_generated_examples", "not by dot product"),
    Mistake("top-k-loops-and-remembers-its-answers", "applications.py", f("""
        _seen = {}

        def top_k(query_vector, vectors, k=5):
            key = (np.asarray(query_vector, dtype=float).tobytes(), id(vectors), k)
            if key in _seen:  # a retry with the same input: answered from memory, at once
                return _seen[key]
            q = np.asarray(query_vector, dtype=float)
            if isinstance(k, bool) or k < 1 or len(vectors) == 0 or len(vectors[0]) != len(q) or not np.linalg.norm(q):
                raise ValueError("bad arguments")
            scores = []
            for row in vectors:
                row = np.asarray(row, dtype=float)
                length = np.linalg.norm(row)
                if not length:
                    raise ValueError("a zero row")
                scores.append(float(row @ q / (length * np.linalg.norm(q))))
            order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))[:k]
            _seen[key] = [(i, scores[i]) for i in order]
            return _seen[key]
        """), "test_scores_every_row_at_once_not_in_a_python_loop", "a Python loop over the rows"),
    # -- accidents the class grader must survive -------------------------------------------------
    Mistake("hangs-forever", "challenges.py", f("""
        def batch_vs_loop(texts, *, client=None, model=None):
            while True:
                pass
        """), "test_works_for_any_list_of_texts", "Stopped after"),
    Mistake("exits-at-import", "challenges.py", "import sys\nsys.exit(3)\n", "test_ranks_the_docs_and_the_dog", "sys.exit(3)"),
    Mistake("syntax-error", "similarity.py", "def broken(:\n    pass\n", "test_same_direction_scores_one", "SyntaxError"),
    Mistake("imports-the-solutions", "embed.py", "from solutions.embed import embed  # noqa\n", "test_returns_a_float_array", "reference solutions"),
    Mistake("prints-megabytes", "challenges.py", f("""
        def self_similarity(text, *, client=None, model=None):
            print("x" * 2_000_000)
            return 0.5
        """), "test_a_sentence_embedded_twice", "the cosine of the two vectors"),
]

VARIANTS = [
    Variant("pure-python-math", {
        "similarity.py": f("""
            def cosine(a, b):
                import math
                a, b = list(a), list(b)
                if len(a) != len(b):
                    raise ValueError("different lengths")
                if not a:
                    raise ValueError("empty")
                dot = sum(x * y for x, y in zip(a, b))
                length_a = math.sqrt(sum(x * x for x in a))
                length_b = math.sqrt(sum(y * y for y in b))
                if length_a == 0 or length_b == 0:
                    raise ValueError("zero vector")
                return float(dot / (length_a * length_b))
            """),
        "embed.py": f("""
            def embed(texts, *, client=None, model=None):
                if isinstance(texts, str):
                    texts = [texts]
                if len(texts) == 0:
                    raise ValueError("nothing to embed")
                for i, text in enumerate(texts):
                    if not isinstance(text, str):
                        raise TypeError(f"item {i} is not a string")
                client, model = client_and_model(client, model)
                response = client.embeddings.create(model=model, input=list(texts))
                rows = [None] * len(texts)
                for item in response.data:
                    rows[item.index] = item.embedding
                return np.array(rows)
            """),
    }),
    Variant("np-dot-and-float32", {
        "similarity.py": f("""
            def cosine(a, b):
                a = np.asarray(a, dtype=np.float32)
                b = np.asarray(b, dtype=np.float32)
                if a.shape != b.shape or a.size == 0:
                    raise ValueError("vectors must be non-empty and of the same length")
                na, nb = np.linalg.norm(a), np.linalg.norm(b)
                if na == 0 or nb == 0:
                    raise ValueError("zero vector")
                return float(np.dot(a, b) / (na * nb))
            """),
        "embed.py": f("""
            def embed(texts, *, client=None, model=None):
                texts = [texts] if isinstance(texts, str) else list(texts)
                if not texts:
                    raise ValueError("empty")
                bad = [i for i, t in enumerate(texts) if not isinstance(t, str)]
                if bad:
                    raise TypeError(f"texts[{bad[0]}] is not a string")
                client, model = client_and_model(client, model)
                response = client.embeddings.create(model=model, input=texts, encoding_format="float")
                out = np.zeros((len(texts), len(response.data[0].embedding)), dtype=np.float32)
                for item in response.data:
                    out[item.index] = item.embedding
                return out
            """),
    }),
    Variant("rank-with-two-requests", {
        "similarity.py": f("""
            def rank(query, docs, *, client=None, model=None):
                doc_vecs = embed(docs, client=client, model=model)
                query_vec = embed(query, client=client, model=model)[0]
                ranked = sorted(
                    ((cosine(query_vec, doc_vecs[i]), docs[i]) for i in range(len(docs))),
                    key=lambda pair: -pair[0],
                )
                return ranked
            """),
    }),
    Variant("rank-query-after-the-docs", {
        "similarity.py": f("""
            def rank(query, docs, *, client=None, model=None):
                vectors = embed(list(docs) + [query], client=client, model=model)
                pairs = [(cosine(vectors[-1], vectors[i]), doc) for i, doc in enumerate(docs)]
                pairs.sort(key=lambda pair: pair[0], reverse=True)
                return pairs
            """),
    }),
    Variant("section-style", {
        "similarity.py": f("""
            def cosine(a, b):
                a, b = np.array(a, dtype=float), np.array(b, dtype=float)
                if len(a) != len(b) or len(a) == 0 or np.linalg.norm(a) == 0 or np.linalg.norm(b) == 0:
                    raise ValueError("cannot compare these vectors")
                return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))
            """),
        "challenges.py": f("""
            def self_similarity(text, *, client=None, model=None):
                both = embed([text, text], client=client, model=model)
                return cosine(both[0], both[1])

            def batch_vs_loop(texts, *, client=None, model=None):
                client, model = client_and_model(client, model)
                batch = client.embeddings.create(model=model, input=texts)
                loop_tokens = 0
                for text in texts:
                    loop_tokens += client.embeddings.create(model=model, input=text).usage.total_tokens
                result = {"batch_requests": 1, "loop_requests": len(texts),
                          "batch_tokens": batch.usage.total_tokens, "loop_tokens": loop_tokens}
                if result["batch_tokens"] < loop_tokens:
                    result["cheaper"] = "batch"
                elif result["batch_tokens"] > loop_tokens:
                    result["cheaper"] = "loop"
                else:
                    result["cheaper"] = "batch" if len(texts) > 1 else "same"
                return result
            """),
    }),
    Variant("applications-plain", {  # float64 and a full argsort, row-by-row SQLite, loops over labels
        "applications.py": f("""
            def top_k(query_vector, vectors, k=5):
                m = np.array(vectors, dtype=np.float64)
                q = np.array(query_vector, dtype=np.float64)
                if k < 1 or m.ndim != 2 or m.shape[0] == 0 or q.ndim != 1 or m.shape[1] != q.shape[0]:
                    raise ValueError("bad arguments")
                if np.linalg.norm(q) == 0 or not np.all(np.linalg.norm(m, axis=1)):
                    raise ValueError("a zero vector")
                scores = (m / np.linalg.norm(m, axis=1, keepdims=True)) @ (q / np.linalg.norm(q))
                order = np.argsort(-scores, kind="stable")[:k]
                return [(int(i), float(scores[i])) for i in order]


            class VectorStore:
                def __init__(self, path, *, client=None, model=None):
                    self.client, self.model = client_and_model(client, model)
                    old = os.umask(0o077)
                    try:
                        self.db = sqlite3.connect(path)
                        self.db.execute("CREATE TABLE IF NOT EXISTS store (text TEXT PRIMARY KEY, model TEXT, vector BLOB, n INTEGER)")
                        self.db.commit()
                    finally:
                        os.umask(old)
                    for (other,) in self.db.execute("SELECT model FROM store WHERE model != ? LIMIT 1", (self.model,)):
                        raise ValueError(f"this store holds vectors of {other}, not of {self.model}")

                def __len__(self):
                    return self.db.execute("SELECT COUNT(*) FROM store").fetchone()[0]

                def add(self, texts):
                    new = []
                    for text in texts:
                        if text not in new and self.db.execute("SELECT 1 FROM store WHERE text = ?", (text,)).fetchone() is None:
                            new.append(text)
                    if not new:
                        return 0
                    for text, vector in zip(new, embed(new, client=self.client, model=self.model)):
                        self.db.execute("INSERT INTO store VALUES (?, ?, ?, ?)", (text, self.model, np.float32(vector).tobytes(), len(self) + 1))
                        self.db.commit()
                    return len(new)

                def search(self, query, k=5):
                    stored = self.db.execute("SELECT text, vector FROM store ORDER BY n").fetchall()
                    if not stored:
                        raise ValueError("nothing stored yet")
                    q = embed(query, client=self.client, model=self.model)[0]
                    scored = [(cosine(q, np.frombuffer(blob, dtype=np.float32)), text) for text, blob in stored]
                    return sorted(scored, key=lambda pair: pair[0], reverse=True)[:k]

                def close(self):
                    self.db.close()

                def __enter__(self):
                    return self

                def __exit__(self, *exc):
                    self.close()


            def near_duplicates(texts, threshold=0.9, *, client=None, model=None):
                if len(texts) < 2:
                    return []
                v = embed(list(texts), client=client, model=model).astype(np.float32)
                v /= np.linalg.norm(v, axis=1, keepdims=True)
                sim = np.triu(v @ v.T, k=1)
                i, j = np.nonzero(np.triu(sim >= threshold, k=1))
                found = [(int(a), int(b), float(sim[a, b])) for a, b in zip(i, j)]
                return sorted(found, key=lambda p: -p[2])


            def classify(text, examples, *, client=None, model=None):
                if not examples or any(len(ts) == 0 for ts in examples.values()):
                    raise ValueError("every label needs an example")
                texts = [t for ts in examples.values() for t in ts]
                v = embed(texts + [text], client=client, model=model)
                best_label, best_score, i = None, None, 0
                for label, ts in examples.items():
                    for _ in ts:
                        score = cosine(v[-1], v[i])
                        i += 1
                        if best_score is None or score > best_score:
                            best_label, best_score = label, score
                return best_label


            from .similarity import cosine
            """),
    }),
    Variant("applications-alternative", {  # float32 and lexsort; the model in a table of its own and chmod; triu_indices; argmax with the text last
        "applications.py": f("""
            def top_k(query_vector, vectors, k=5):
                m = np.asarray(vectors, dtype=np.float32)
                q = np.asarray(query_vector, dtype=np.float32)
                if k < 1 or m.ndim != 2 or len(m) == 0 or m.shape[1] != q.shape[0]:
                    raise ValueError("bad")
                qn = np.linalg.norm(q); rn = np.linalg.norm(m, axis=1)
                if qn == 0 or np.any(rn == 0):
                    raise ValueError("zero")
                s = (m @ q) / (rn * qn)
                order = np.lexsort((np.arange(len(s)), -s))[:k]
                return [(int(i), float(s[i])) for i in order]

            class VectorStore:
                def __init__(self, path, *, client=None, model=None):
                    self.client, self.model = client_and_model(client, model)
                    new = not os.path.exists(path)
                    self.db = sqlite3.connect(path)
                    if new:
                        os.chmod(path, 0o600)
                    self.db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
                    self.db.execute("CREATE TABLE IF NOT EXISTS docs (id INTEGER PRIMARY KEY AUTOINCREMENT, text TEXT UNIQUE, vec BLOB)")
                    row = self.db.execute("SELECT value FROM meta WHERE key='model'").fetchone()
                    if row is None:
                        self.db.execute("INSERT INTO meta VALUES ('model', ?)", (self.model,))
                        self.db.commit()
                    elif row[0] != self.model:
                        raise ValueError(f"store made with {row[0]}, opened with {self.model}")
                def __len__(self):
                    return self.db.execute("SELECT COUNT(*) FROM docs").fetchone()[0]
                def add(self, texts):
                    have = {t for (t,) in self.db.execute("SELECT text FROM docs")}
                    new = [t for t in dict.fromkeys(texts) if t not in have]
                    if not new:
                        return 0
                    vecs = embed(new, client=self.client, model=self.model)
                    with self.db:
                        self.db.executemany("INSERT INTO docs (text, vec) VALUES (?, ?)", [(t, sqlite3.Binary(np.asarray(v, dtype="<f4").tobytes())) for t, v in zip(new, vecs)])
                    return len(new)
                def search(self, query, k=5):
                    rows = self.db.execute("SELECT text, vec FROM docs ORDER BY id").fetchall()
                    if not rows:
                        raise ValueError("empty store")
                    m = np.stack([np.frombuffer(b, dtype="<f4") for _, b in rows])
                    q = embed([query], client=self.client, model=self.model)[0]
                    return [(s, rows[i][0]) for i, s in top_k(q, m, k)]
                def close(self):
                    self.db.close()
                def __enter__(self):
                    return self
                def __exit__(self, *a):
                    self.close()

            def near_duplicates(texts, threshold=0.9, *, client=None, model=None):
                texts = list(texts)
                if len(texts) < 2:
                    return []
                v = embed(texts, client=client, model=model)
                v = v / np.linalg.norm(v, axis=1, keepdims=True)
                sims = v @ v.T
                i, j = np.triu_indices(len(texts), k=1)
                keep = sims[i, j] >= threshold
                pairs = [(int(a), int(b), float(s)) for a, b, s in zip(i[keep], j[keep], sims[i, j][keep])]
                pairs.sort(key=lambda p: (-p[2], p[0], p[1]))
                return pairs

            def classify(text, examples, *, client=None, model=None):
                if not examples or not all(examples.values()):
                    raise ValueError("need examples for every label")
                labels = [lab for lab, ts in examples.items() for _ in ts]
                flat = [t for ts in examples.values() for t in ts]
                v = embed(flat + [text], client=client, model=model)
                v = v / np.linalg.norm(v, axis=1, keepdims=True)
                return labels[int(np.argmax(v[:-1] @ v[-1]))]
            """),
    }),
]


def build(destination: Path, solutions: Path, changes: dict[str, str]) -> Path:
    """A submission folder holding exercises/: the solutions with `changes` swapped in."""
    exercises = destination / "exercises"
    shutil.copytree(solutions, exercises, ignore=shutil.ignore_patterns("__pycache__"))
    for file, source in changes.items():
        path = exercises / file
        path.write_text(swap(path.read_text(encoding="utf-8"), source), encoding="utf-8")
    return destination


def swap(module: str, replacement: str) -> str:
    """Replace the module's functions named in `replacement` by its versions; other code is appended."""
    try:
        new = ast.parse(replacement)
    except SyntaxError:
        return module + "\n" + replacement  # a deliberately broken file
    names = {node.name for node in new.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
    lines = module.splitlines(keepends=True)
    for node in sorted(
        (n for n in ast.parse(module).body if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name in names),
        key=lambda n: n.lineno,
        reverse=True,
    ):
        del lines[node.lineno - 1 : node.end_lineno]
    kept = "".join(lines)
    if not names:  # module-level code (an import, an exit): it runs at import, first
        return replacement + kept
    return kept.rstrip("\n") + "\n\n\n" + replacement

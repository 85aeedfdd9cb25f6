"""A correct applications.py written otherwise: applications plain."""

# -- swapped into the solution file from here on (its own imports stand) --
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

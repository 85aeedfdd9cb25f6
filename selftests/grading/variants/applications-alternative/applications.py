"""A correct applications.py written otherwise: applications alternative."""

# -- swapped into the solution file from here on (its own imports stand) --
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

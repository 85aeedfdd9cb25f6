"""Synthetic endpoints: what a real server may do but the two recorded ones never do.

Never recorded, never in cassettes/: each answers through an httpx mock transport inside the
grading process (the `synthetic_api` fixture), with OpenAI's exact shapes and error codes.

- a model name nobody could guess, so a name written into the code cannot pass;
- vectors that differ slightly between two calls of the same text, as non-deterministic servers
  give (so "embedded twice" means two real answers, and a constant 1.0 is not their cosine);
- usage that differs between one batch and the same texts one by one: a per-request overhead
  (the loop costs more), or padding of every text in a batch to the longest (the batch costs more).

Vectors are made from a hash of the text: the same text always points the same way (plus noise,
when asked), different texts point elsewhere.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import struct

import httpx2
import numpy as np

DIMENSIONS = 16


class Synthetic:
    def __init__(self, *, noise: float = 0.0, overhead: int = 0, pad_batches: bool = False) -> None:
        self.model = f"synthetic-{secrets.token_hex(4)}"  # a new name each test: no one can guess it
        self.noise = noise
        self.overhead = overhead  # tokens every request costs on top of its texts
        self.pad_batches = pad_batches  # a batch costs every text as much as its longest
        self.requests = 0

    @staticmethod
    def tokens(text: str) -> int:
        return len(text.split()) + 2  # words, plus a start and an end token

    def vector(self, text: str, position: int) -> list[float]:
        seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
        base = np.random.default_rng(seed).normal(size=DIMENSIONS)
        if self.noise:
            wobble = np.random.default_rng([seed, self.requests, position]).normal(scale=self.noise, size=DIMENSIONS)
            base = base + wobble
        return [float(x) for x in base.astype(np.float32)]

    def usage(self, texts: list[str]) -> int:
        counts = [self.tokens(t) for t in texts]
        if self.pad_batches and len(counts) > 1:
            counts = [max(counts)] * len(counts)
        return sum(counts) + self.overhead

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests += 1
        try:
            body = json.loads(request.content)
        except ValueError:
            return error(400, "We could not parse the JSON body of your request.", None, None)
        if body.get("model") != self.model:
            return error(
                404, f"The model `{body.get('model')}` does not exist or you do not have access to it.", None, "model_not_found"
            )
        texts = body.get("input")
        texts = [texts] if isinstance(texts, str) else texts
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
            return error(400, "'input' : input must be a string or an array of strings", "input", None)
        as_base64 = body.get("encoding_format") == "base64"
        data = []
        for index, text in enumerate(texts):
            vector = self.vector(text, index)
            shown = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode() if as_base64 else vector
            data.append({"object": "embedding", "index": index, "embedding": shown})
        tokens = self.usage(texts)
        usage = {"prompt_tokens": tokens, "total_tokens": tokens}
        return httpx2.Response(200, json={"object": "list", "data": data, "model": self.model, "usage": usage})


def error(status: int, message: str, param: str | None, code: str | None) -> httpx2.Response:
    body = {"error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}}
    return httpx2.Response(status, json=body)

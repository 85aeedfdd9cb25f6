"""The success bodies, in OpenAI's shapes.

An embeddings response is `{"object": "list", "data": [{"object": "embedding", "index": i,
"embedding": ...}], "model": ..., "usage": {"prompt_tokens", "total_tokens"}}`; the embedding is
a list of floats, or with `encoding_format: base64` the base64 of the little-endian float32
bytes (what the `openai` client asks for by default, and decodes itself).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from embedlab.server.validation import EncodingFormat


def truncate(vectors: np.ndarray, dimensions: int) -> np.ndarray:
    """The first `dimensions` coordinates, scaled back to unit length (as OpenAI's `dimensions`)."""
    head = vectors[:, :dimensions]
    norms = np.linalg.norm(head, axis=1, keepdims=True)
    return head / np.maximum(norms, np.finfo(np.float32).tiny)


def embeddings_body(vectors: np.ndarray, token_counts: Sequence[int], model: str, encoding_format: EncodingFormat) -> bytes:
    rows = np.ascontiguousarray(vectors, dtype="<f4")
    if encoding_format == "base64":
        embeddings: list[Any] = [base64.b64encode(row.tobytes()).decode("ascii") for row in rows]
    else:
        embeddings = rows.tolist()
    tokens = int(sum(token_counts))
    body = {
        "object": "list",
        "data": [{"object": "embedding", "index": i, "embedding": e} for i, e in enumerate(embeddings)],
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
    return json.dumps(body, separators=(",", ":")).encode()


def model_object(name: str, created: int) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": created, "owned_by": "embedlab"}


def models_body(name: str, created: int) -> bytes:
    return json.dumps({"object": "list", "data": [model_object(name, created)]}).encode()

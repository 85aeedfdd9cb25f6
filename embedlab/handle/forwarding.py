"""The learner's HTTP on its way out: a forwarded request checked against what OpenAI's endpoint
takes (2,048 inputs, 300,000 tokens) before any work, then handed to the endpoint that made the
client; and how long a call took, seen from this side."""

from __future__ import annotations

import base64
import json
import time

from embedlab.handle.values import ClientHandle

MAX_INPUTS = 2048  # what OpenAI's endpoint takes in one request: more is answered 400, unread
MAX_TOKENS = 300_000


class CallTiming:
    """How long the last call took, seen from here (the learner's code cannot touch this clock):
    in all, and after its last request was answered (its own work once the vectors were in)."""

    def __init__(self) -> None:
        self.started = self.answered = time.perf_counter()
        self.seconds = self.after_answers = 0.0
        self.forwarded = 0  # bytes of request bodies this call sent

    def forward(self, frame: dict) -> dict:
        body = frame.get("body")
        self.forwarded += len(body) if isinstance(body, str) else 0
        if self.forwarded > CALL_BYTES:
            return _http_error(413, f"this call sent more than {CALL_BYTES // 1024**2} MB of requests")
        try:
            return _forward(frame)
        finally:
            self.answered = time.perf_counter()

    def done(self) -> None:
        now = time.perf_counter()
        self.seconds, self.after_answers = now - self.started, now - self.answered


def no_http(frame: dict) -> dict:
    return {"error": "connect", "message": "no request can be made while a file is imported"}


def _forward(frame: dict) -> dict:
    client = frame.get("client")
    handle = ClientHandle.registry.get(client) if isinstance(client, int) else None
    if handle is None:
        return {"error": "connect", "message": "this client belongs to a test that has finished"}
    refused = over_the_limits(frame)
    if refused:
        return _http_error(400, refused)
    return handle.endpoint.forward(frame)


EMBEDDINGS_ARGUMENTS = frozenset({"input", "model", "encoding_format", "dimensions", "user"})
CALL_BYTES = 64 * 1024**2  # request bodies one call may send through the grader


def over_the_limits(frame: dict) -> str | None:
    """Why an embeddings request is more than OpenAI's endpoint takes (2,048 inputs, 300,000
    tokens), judged without matching it against any recording; None if it is not."""
    body = frame.get("body")
    if not isinstance(body, str) or not str(frame.get("url", "")).rstrip("/").endswith("/embeddings"):
        return None
    try:
        payload = json.loads(base64.b64decode(body, validate=True))
    except (ValueError, RecursionError):
        return None  # the endpoint says what is wrong with it
    unknown = sorted(k for k in payload if k not in EMBEDDINGS_ARGUMENTS)[:3] if isinstance(payload, dict) else []
    if unknown:  # as OpenAI answers it; and nothing the grader keeps holds what no server reads
        return f"Unrecognized request argument supplied: {', '.join(str(k)[:40] for k in unknown)}"
    texts = payload.get("input") if isinstance(payload, dict) else None
    if isinstance(texts, str) or texts is None:
        texts = [texts or ""]
    if not isinstance(texts, list):
        return None
    if len(texts) > MAX_INPUTS:
        return f"'input' must have at most {MAX_INPUTS} items, but it has {len(texts):,}"
    tokens = 0
    for text in texts:  # text: about 4 bytes a token, as OpenAI's tokenizer averages; token ids: one each
        tokens += len(text) if isinstance(text, list) else -(-len(str(text).encode("utf-8", "replace")) // 4)
    if tokens > MAX_TOKENS:
        return f"the request holds about {tokens:,} tokens, over the {MAX_TOKENS:,} one request may hold"
    return None


def _http_error(status: int, message: str) -> dict:
    body = {"error": {"message": message, "type": "invalid_request_error", "param": "input", "code": None}}
    return {"status": status, "headers": [["content-type", "application/json"]], "body": base64.b64encode(json.dumps(body).encode()).decode("ascii")}

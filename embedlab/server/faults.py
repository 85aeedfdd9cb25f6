"""A backend slowed or broken on purpose, for the server's own tests.

`embedlab serve --test-slow SECONDS --test-fail-on TEXT` (hidden options) wraps the real model in
`FaultyBackend`: each model call first sleeps, and a call whose texts include TEXT raises (so
does counting their tokens, which the server does for big requests: an error it does not
expect). So a test can make a backlog of queued requests, or a merged call that fails, in a
second or two of real time instead of minutes of real work.
"""

from __future__ import annotations

import time

from embedlab.server.backends import Backend, Embedded

_COPIED = ("kind", "name", "description", "dimensions", "supports_dimensions", "chunk_texts", "chunk_chars", "sort_by_length", "max_text_tokens")


class FaultyBackend(Backend):
    def __init__(self, inner: Backend, *, delay: float = 0.0, fail_on: str | None = None) -> None:
        for name in _COPIED:
            setattr(self, name, getattr(inner, name))
        self._inner = inner
        self._delay = delay
        self._fail_on = fail_on

    def embed(self, texts: list[str]) -> Embedded:
        self._fail_if_asked(texts)
        if self._delay:
            time.sleep(self._delay)
        return self._inner.embed(texts)

    def count_tokens(self, texts: list[str]) -> int:
        self._fail_if_asked(texts)
        return self._inner.count_tokens(texts)

    def _fail_if_asked(self, texts: list[str]) -> None:
        if self._fail_on is not None and self._fail_on in texts:
            raise RuntimeError(f"test fault: {self._fail_on!r} among the texts")

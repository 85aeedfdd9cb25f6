"""The backends in-process: the WordLlama pooling against the library's own `embed`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from embedlab.server.backends import BackendError, WordLlamaBackend, _root_logging_untouched, load_backend


@pytest.fixture(scope="module")
def backend() -> WordLlamaBackend:
    return WordLlamaBackend()


def test_same_vectors_as_the_library(backend: WordLlamaBackend) -> None:
    with _root_logging_untouched():
        import wordllama

        library = wordllama.WordLlama.load(cache_dir=Path(wordllama.__file__).parent, disable_download=True)
    rng = np.random.default_rng(0)
    words = "cat dog sleeps the a on mat server crashed python déjà vu 日本語 🙂 naïve".split()
    texts = [" ".join(rng.choice(words, size=rng.integers(1, 30))) for _ in range(300)]
    texts += [" ", "x", "cat " * 3000]  # whitespace; one character; longer than a pooling chunk
    got = backend.embed(texts)
    np.testing.assert_allclose(got.vectors, library.embed(texts, norm=True), atol=1e-6)
    assert got.token_counts == [len(library.tokenizer.encode(t, add_special_tokens=False).ids) for t in texts]


def test_batch_and_singles_agree(backend: WordLlamaBackend) -> None:
    texts = ["a sleeping cat", "the server crashed", "a dog barked loudly"]
    batch = backend.embed(texts)
    for i, text in enumerate(texts):
        alone = backend.embed([text])
        np.testing.assert_array_equal(alone.vectors[0], batch.vectors[i])
        assert alone.token_counts == [batch.token_counts[i]]


def test_wordllama_logging_is_left_alone() -> None:
    import logging

    root = logging.getLogger()
    before = (list(root.handlers), root.level)
    WordLlamaBackend()
    assert (list(root.handlers), root.level) == before


def test_unknown_backend() -> None:
    with pytest.raises(BackendError, match="unknown backend"):
        load_backend("word2vec")

"""The sentence-transformers backend, with a tiny randomly initialised model built by the test."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import openai
import pytest
from openai import AsyncOpenAI, OpenAI

from embedlab.server.backends import BackendError, resolve_sentence_transformer
from embedlab.server.known_models import cached_model_dir, find_known
from embedlab.server.launch import LocalServer

from .conftest import TINY_MAX_TOKENS, TINY_WORDS


@pytest.fixture(scope="module")
def client(st_server: LocalServer) -> OpenAI:
    return OpenAI(base_url=st_server.base_url, api_key="anything", max_retries=0)


def vectors(response) -> np.ndarray:
    return np.array([item.embedding for item in response.data])


def test_served_under_the_folders_name(st_server: LocalServer, tiny_model_dir: Path) -> None:
    assert st_server.model == tiny_model_dir.name == "tiny-bert"
    assert st_server.info["backend"] == "sentence-transformers"
    assert st_server.info["dimensions"] == 32


def test_unit_vectors_in_order(client: OpenAI, st_server: LocalServer) -> None:
    texts = ["a cat sleeps on the mat", "a dog barked loudly", "the server crashed"]
    batch = vectors(client.embeddings.create(model=st_server.model, input=texts))
    assert batch.shape == (3, 32)
    np.testing.assert_allclose(np.linalg.norm(batch, axis=1), 1.0, atol=1e-6)
    as_float = vectors(client.embeddings.create(model=st_server.model, input=texts, encoding_format="float"))
    np.testing.assert_array_equal(batch, as_float)
    for i, text in enumerate(texts):  # padding in a batch does not change a text's vector
        alone = vectors(client.embeddings.create(model=st_server.model, input=text))[0]
        np.testing.assert_allclose(batch[i], alone, atol=1e-5)


def test_usage_counts_special_tokens_and_truncation(client: OpenAI, st_server: LocalServer) -> None:
    def tokens(text: str) -> int:
        return client.embeddings.create(model=st_server.model, input=text).usage.prompt_tokens

    assert tokens("hello world") == 2 + 2  # [CLS] hello world [SEP]
    assert tokens("a cat sleeps") == 3 + 2
    long_text = " ".join(TINY_WORDS * 3)
    assert tokens(long_text) == TINY_MAX_TOKENS  # what the model processed, not what was sent
    texts = ["hello world", "a cat sleeps", long_text]
    batch = client.embeddings.create(model=st_server.model, input=texts).usage
    assert batch.prompt_tokens == batch.total_tokens == 4 + 5 + TINY_MAX_TOKENS


def test_dimensions_is_refused(client: OpenAI, st_server: LocalServer) -> None:
    with pytest.raises(openai.BadRequestError, match="does not support specifying dimensions") as refused:
        client.embeddings.create(model=st_server.model, input="a cat", dimensions=16)
    assert refused.value.status_code == 400


def test_concurrent_single_texts_get_their_own_rows(st_server: LocalServer) -> None:
    texts = [f"{a} {b}" for a in TINY_WORDS[:8] for b in TINY_WORDS[8:12]]  # 32 texts

    async def main() -> tuple[np.ndarray, np.ndarray]:
        client = AsyncOpenAI(base_url=st_server.base_url, api_key="anything", max_retries=0, timeout=60)
        singles = await asyncio.gather(*(client.embeddings.create(model=st_server.model, input=t) for t in texts))
        batch = await client.embeddings.create(model=st_server.model, input=texts)
        await client.close()
        return np.array([r.data[0].embedding for r in singles]), vectors(batch)

    singles, batch = asyncio.run(main())
    np.testing.assert_allclose(singles, batch, atol=1e-5)


def test_served_name_can_be_chosen() -> None:
    with LocalServer("--served-name", "text-embedding-3-small") as running:  # the option is the same for each backend
        client = OpenAI(base_url=running.base_url, api_key="anything", max_retries=0)
        assert client.embeddings.create(model="text-embedding-3-small", input="a cat").model == "text-embedding-3-small"
        with pytest.raises(openai.NotFoundError):
            client.embeddings.create(model="wordllama-l2-supercat", input="a cat")


def test_model_names_resolve_to_local_files(tmp_path: Path, tiny_model_dir: Path) -> None:
    assert resolve_sentence_transformer(str(tiny_model_dir)) == (str(tiny_model_dir.resolve()), "tiny-bert")
    known = find_known("sentence-transformers/all-MiniLM-L6-v2")
    assert known is not None and known.name == "all-MiniLM-L6-v2"
    with pytest.raises(BackendError, match="embedlab fetch-model all-MiniLM-L6-v2"):
        resolve_sentence_transformer("all-MiniLM-L6-v2", tmp_path)
    cached = cached_model_dir(known, tmp_path)
    cached.mkdir()
    (cached / "modules.json").write_text("[]")
    assert resolve_sentence_transformer("all-minilm-l6-v2", tmp_path) == (str(cached), "all-MiniLM-L6-v2")
    assert resolve_sentence_transformer("BAAI/bge-small-en-v1.5") == ("BAAI/bge-small-en-v1.5", "bge-small-en-v1.5")
    with pytest.raises(BackendError, match="no model folder"):
        resolve_sentence_transformer("./no-such-folder")

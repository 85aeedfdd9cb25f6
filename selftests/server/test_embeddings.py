"""The happy paths of `embedlab serve` (WordLlama), through the real `openai` client."""

from __future__ import annotations

import base64

import httpx2
import numpy as np
import pytest
from openai import OpenAI

from embedlab.server.launch import LocalServer

SECTION = ["a sleeping cat", "the cat naps on the mat", "a feline dozing", "a dog barked loudly", "the server crashed"]


@pytest.fixture(scope="module")
def client(server: LocalServer) -> OpenAI:
    return OpenAI(base_url=server.base_url, api_key="anything", max_retries=0)


def vectors(response) -> np.ndarray:
    return np.array([item.embedding for item in response.data], dtype=np.float64)


@pytest.fixture(scope="module")
def wordllama():
    """The library itself, to check the server's vectors against."""
    from embedlab.server.backends import _root_logging_untouched

    with _root_logging_untouched():
        from pathlib import Path

        import wordllama

        return wordllama.WordLlama.load(cache_dir=Path(wordllama.__file__).parent, disable_download=True)


def test_a_string_is_one_text(client: OpenAI, server: LocalServer) -> None:
    response = client.embeddings.create(model=server.model, input="a sleeping cat")
    assert len(response.data) == 1
    assert response.data[0].index == 0
    assert len(response.data[0].embedding) == 256
    assert response.model == server.model


def test_a_list_keeps_its_order_and_indexes(client: OpenAI, server: LocalServer) -> None:
    response = client.embeddings.create(model=server.model, input=SECTION)
    assert [item.index for item in response.data] == list(range(len(SECTION)))
    batch = vectors(response)
    for i, text in enumerate(SECTION):
        alone = vectors(client.embeddings.create(model=server.model, input=text))[0]
        np.testing.assert_allclose(batch[i], alone, atol=1e-6)


def test_vectors_are_unit_length_and_match_wordllama(client: OpenAI, server: LocalServer, wordllama) -> None:
    got = vectors(client.embeddings.create(model=server.model, input=SECTION))
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(got, wordllama.embed(SECTION, norm=True), atol=1e-6)


def test_the_section_claims_hold(client: OpenAI, server: LocalServer) -> None:
    query, cat, dog, crash = vectors(
        client.embeddings.create(model=server.model, input=["a sleeping cat", SECTION[1], SECTION[3], SECTION[4]])
    )
    assert query @ cat > query @ dog > query @ crash


def test_default_base64_and_explicit_float_agree(client: OpenAI, server: LocalServer) -> None:
    default = vectors(client.embeddings.create(model=server.model, input=SECTION))  # the client asks for base64
    as_float = vectors(client.embeddings.create(model=server.model, input=SECTION, encoding_format="float"))
    np.testing.assert_array_equal(default, as_float)


def test_raw_response_has_openais_shape(server: LocalServer) -> None:
    for encoding in ("float", "base64"):
        response = httpx2.post(
            f"{server.base_url}/embeddings",
            json={"model": server.model, "input": ["a cat", "a dog"], "encoding_format": encoding},
        )
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        assert int(response.headers["openai-processing-ms"]) >= 0
        body = response.json()
        assert list(body) == ["object", "data", "model", "usage"]
        assert body["object"] == "list" and body["model"] == server.model
        assert set(body["usage"]) == {"prompt_tokens", "total_tokens"}
        for i, item in enumerate(body["data"]):
            assert list(item) == ["object", "index", "embedding"]
            assert item["object"] == "embedding" and item["index"] == i
            if encoding == "base64":
                vector = np.frombuffer(base64.b64decode(item["embedding"]), dtype="<f4")
            else:
                vector = np.array(item["embedding"])
            assert vector.shape == (256,)


def test_dimensions_truncates_and_renormalises(client: OpenAI, server: LocalServer) -> None:
    full = vectors(client.embeddings.create(model=server.model, input=SECTION))
    short = vectors(client.embeddings.create(model=server.model, input=SECTION, dimensions=64))
    assert short.shape == (len(SECTION), 64)
    expected = full[:, :64] / np.linalg.norm(full[:, :64], axis=1, keepdims=True)
    np.testing.assert_allclose(short, expected, atol=1e-6)
    same = vectors(client.embeddings.create(model=server.model, input=SECTION, dimensions=256))
    np.testing.assert_array_equal(same, full)


def test_usage_counts_the_models_tokens(client: OpenAI, server: LocalServer, wordllama) -> None:
    batch = client.embeddings.create(model=server.model, input=SECTION)
    singles = [client.embeddings.create(model=server.model, input=text).usage.prompt_tokens for text in SECTION]
    assert singles == [len(wordllama.tokenizer.encode(text, add_special_tokens=False).ids) for text in SECTION]
    assert batch.usage.prompt_tokens == batch.usage.total_tokens == sum(singles)


def test_models_list_and_retrieve(client: OpenAI, server: LocalServer) -> None:
    models = client.models.list()
    assert [m.id for m in models.data] == [server.model]
    assert models.data[0].object == "model"
    assert client.models.retrieve(server.model).id == server.model


def test_health(server: LocalServer) -> None:
    response = httpx2.get(server.base_url.removesuffix("/v1") + "/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert (body["model"], body["backend"], body["dimensions"]) == (server.model, "wordllama", 256)
    assert body["batches"]["texts"] >= body["batches"]["calls"] >= 0


def test_the_default_limit_is_2048_inputs(client: OpenAI, server: LocalServer) -> None:
    texts = [f"text number {i}" for i in range(2048)]
    response = client.embeddings.create(model=server.model, input=texts)
    assert len(response.data) == 2048
    assert [item.index for item in response.data] == list(range(2048))

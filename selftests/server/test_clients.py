"""Real clients nobody here wrote, pointed at `embedlab serve` on loopback as their users point them,
against both backends: each gets, for the same request, exactly the vectors the openai Python
client gets (`np.array_equal`, not close). (A transformer's vector for a text may move in its last
bit with the batch it shares — padding — so single texts are compared with single texts, and the
32 concurrent requests, which the server merges, to within 1e-6 for sentence-transformers.)

The clients: the openai SDK for Python (sync, async, 32 at once) and for Node (from npm, pinned in
tools/openai-node), langchain-openai with its defaults (which sends token ids), litellm,
llama-index's OpenAI-like embedding, curl `--http2` and Java's `HttpClient` (both ask to upgrade
to h2c on plain http), and a server reached at `http://[::1]:PORT`.

Python clients run under the loopback guard. The other programs get every proxy variable
pointing at a closed loopback port and `NO_PROXY` naming only the loopback names: whatever else
they might try to reach goes nowhere. The heavy Python clients come with the `clients` extra.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from openai import AsyncOpenAI, OpenAI

from embedlab.server import tokens
from embedlab.server.launch import LocalServer

from .helpers import has_ipv6_loopback

ROOT = Path(__file__).resolve().parents[2]
NODE_SDK = ROOT / "tools" / "openai-node"
JAVA_CLIENT = Path(__file__).resolve().parent / "clients" / "Embed.java"

# Words of the tiny test model's vocabulary (conftest.TINY_WORDS), so both backends know them.
TEXTS = ["a cat sleeps on the mat", "a dog barked loudly", "the server crashed", "hello world", "python code"]
KEY = "embedlab-local"


@pytest.fixture(scope="module", params=["wordllama", "sentence-transformers"])
def served(request: pytest.FixtureRequest) -> LocalServer:
    return request.getfixturevalue("server" if request.param == "wordllama" else "st_server")


@pytest.fixture(scope="module")
def reference(served: LocalServer) -> np.ndarray:
    """The openai Python client's vectors for TEXTS, as a learner gets them (its defaults)."""
    client = OpenAI(base_url=served.base_url, api_key=KEY, max_retries=0)
    return rows(client.embeddings.create(model=served.model, input=TEXTS))


def single(served: LocalServer, text: str) -> np.ndarray:
    """The openai Python client's vector for `text` sent alone."""
    client = OpenAI(base_url=served.base_url, api_key=KEY, max_retries=0)
    return rows(client.embeddings.create(model=served.model, input=text))


def rows(response) -> np.ndarray:
    return np.array([item.embedding for item in sorted(response.data, key=lambda d: d.index)], dtype=np.float64)


def same(vectors, reference: np.ndarray) -> None:
    got = np.array(vectors, dtype=np.float64)
    assert got.shape == reference.shape
    assert np.array_equal(got, reference), f"largest difference {np.abs(got - reference).max()}"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def confined_env(**extra: str) -> dict[str, str]:
    """The environment for a program that is not Python: every proxy is a closed loopback port,
    and only the loopback names go direct."""
    proxy = f"http://127.0.0.1:{closed_port()}"
    env = dict(os.environ)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        env[name] = env[name.lower()] = proxy
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost,::1"
    env.update(extra)
    return env


# --- the openai Python SDK --------------------------------------------------------------------


def test_openai_python_sync(served: LocalServer, reference: np.ndarray) -> None:
    client = OpenAI(base_url=served.base_url, api_key=KEY, max_retries=0)
    response = client.embeddings.create(model=served.model, input=TEXTS, encoding_format="float")
    same(rows(response), reference)
    assert response._request_id and response._request_id.startswith("req_")
    alone = single(served, TEXTS[2])
    np.testing.assert_allclose(alone, reference[2:3], atol=1e-6)  # in a batch or alone: the same text


def test_openai_python_async_and_concurrent(served: LocalServer, reference: np.ndarray) -> None:
    async def main() -> tuple[np.ndarray, list[np.ndarray]]:
        async with AsyncOpenAI(base_url=served.base_url, api_key=KEY, max_retries=0, timeout=60) as client:
            batch = await client.embeddings.create(model=served.model, input=TEXTS)
            # 32 requests at once, each the whole list: the server merges them into shared calls
            many = await asyncio.gather(*(client.embeddings.create(model=served.model, input=TEXTS) for _ in range(32)))
        return rows(batch), [rows(r) for r in many]

    batch, many = asyncio.run(main())
    same(batch, reference)
    for vectors in many:
        if served.info["backend"] == "wordllama":
            same(vectors, reference)
        else:
            np.testing.assert_allclose(vectors, reference, rtol=0, atol=1e-6)


@pytest.mark.skipif(not has_ipv6_loopback(), reason="this machine has no IPv6 loopback (::1)")
def test_over_ipv6_loopback(served: LocalServer, reference: np.ndarray) -> None:
    port = served.base_url.rsplit(":", 1)[1].split("/")[0]
    client = OpenAI(base_url=f"http://[::1]:{port}/v1", api_key=KEY, max_retries=0)
    same(rows(client.embeddings.create(model=served.model, input=TEXTS)), reference)


# --- the openai Node SDK ----------------------------------------------------------------------


def test_openai_node(served: LocalServer, reference: np.ndarray) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is not installed")
    assert (NODE_SDK / "node_modules" / "openai").is_dir(), "install the Node SDK: npm ci --prefix tools/openai-node"
    done = subprocess.run(
        [node, str(NODE_SDK / "embed.mjs"), served.base_url, served.model],
        input=json.dumps(TEXTS), capture_output=True, text=True, timeout=60,
        env=confined_env(OPENAI_API_KEY=KEY, NODE_USE_ENV_PROXY="1"),
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    same(result["vectors"], reference)
    assert result["request_id"].startswith("req_")


# --- LangChain, litellm, llama-index (the `clients` extra) ------------------------------------


@pytest.fixture(scope="module")
def tiktoken_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tiktoken's cl100k_base file, written from bpe-openai's tables by the command of docs/learners.md: tiktoken
    downloads it otherwise."""
    pytest.importorskip("bpe_openai", reason="needs bpe-openai (the `local` extra)")
    folder = tmp_path_factory.mktemp("tiktoken")
    done = subprocess.run([sys.executable, "-m", "embedlab.server.tokens", str(folder)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert f"TIKTOKEN_CACHE_DIR={folder}" in done.stdout
    assert [f.name for f in folder.iterdir()] == [tokens.tiktoken_cache_key()]
    return folder


def test_langchain_with_its_defaults(
    served: LocalServer, reference: np.ndarray, tiktoken_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    langchain_openai = pytest.importorskip("langchain_openai", reason="needs the `clients` extra")
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tiktoken_cache))
    embeddings = langchain_openai.OpenAIEmbeddings(model=served.model, base_url=served.base_url, api_key=KEY, max_retries=0)
    # Its defaults: it tokenizes with tiktoken's cl100k_base and sends token ids, not text.
    assert embeddings.check_embedding_ctx_length and embeddings.tiktoken_enabled
    same(embeddings.embed_documents(TEXTS), reference)
    same([embeddings.embed_query(TEXTS[0])], single(served, TEXTS[0]))


def test_langchain_sending_text(served: LocalServer, reference: np.ndarray) -> None:
    langchain_openai = pytest.importorskip("langchain_openai", reason="needs the `clients` extra")
    embeddings = langchain_openai.OpenAIEmbeddings(
        model=served.model, base_url=served.base_url, api_key=KEY, max_retries=0, check_embedding_ctx_length=False
    )
    same(embeddings.embed_documents(TEXTS), reference)


def test_litellm(served: LocalServer, reference: np.ndarray, monkeypatch: pytest.MonkeyPatch) -> None:
    # Otherwise litellm fetches its model price list from the internet when it is imported.
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    litellm = pytest.importorskip("litellm", reason="needs the `clients` extra")
    response = litellm.embedding(model=f"openai/{served.model}", input=TEXTS, api_base=served.base_url, api_key=KEY)
    same([item["embedding"] for item in sorted(response.data, key=lambda d: d["index"])], reference)


def test_llama_index_openai_like(served: LocalServer, reference: np.ndarray) -> None:
    module = pytest.importorskip("llama_index.embeddings.openai_like", reason="needs the `clients` extra")
    embedding = module.OpenAILikeEmbedding(model_name=served.model, api_base=served.base_url, api_key=KEY, max_retries=0)
    same(embedding.get_text_embedding_batch(TEXTS), reference)
    same([embedding.get_query_embedding(TEXTS[1])], single(served, TEXTS[1]))


# --- programs that ask to upgrade to HTTP/2 on plain http --------------------------------------


def float_body(served: LocalServer) -> str:
    return json.dumps({"model": served.model, "input": TEXTS, "encoding_format": "float"})


def test_curl_http2(served: LocalServer, reference: np.ndarray, tmp_path: Path) -> None:
    curl = shutil.which("curl")
    if curl is None:
        pytest.skip("curl is not installed")
    headers = tmp_path / "headers.txt"
    done = subprocess.run(
        [curl, "--http2", "-sS", "--max-time", "60", "-D", str(headers), "-H", "Content-Type: application/json",
         "--data-binary", "@-", f"{served.base_url}/embeddings"],
        input=float_body(served), capture_output=True, text=True, timeout=90, env=confined_env(),
    )
    assert done.returncode == 0, done.stderr
    head = headers.read_text().lower()
    assert head.startswith("http/1.1 200"), head  # the upgrade was ignored, the request answered
    assert "x-request-id: req_" in head
    same([item["embedding"] for item in json.loads(done.stdout)["data"]], reference)


def test_java_http_client(served: LocalServer, reference: np.ndarray) -> None:
    java = shutil.which("java")
    if java is None:
        pytest.skip("Java is not installed")
    closed = str(closed_port())
    proxies = [f"-D{scheme}.proxy{part}={value}" for scheme in ("http", "https")
               for part, value in (("Host", "127.0.0.1"), ("Port", closed))]
    done = subprocess.run(
        [java, *proxies, "-Dhttp.nonProxyHosts=localhost|127.0.0.1|[::1]", str(JAVA_CLIENT), f"{served.base_url}/embeddings"],
        input=float_body(served), capture_output=True, text=True, timeout=120, env=confined_env(),
    )
    assert done.returncode == 0, done.stderr
    status, version, request_id, body = done.stdout.split("\n", 3)
    assert (status, version) == ("200", "HTTP_1_1"), body
    assert request_id.startswith("req_")
    same([item["embedding"] for item in json.loads(body)["data"]], reference)

"""Cassette rules: matching, safe loading, scrubbing at record time, and the lint that proves it."""

from __future__ import annotations

import base64
import http.server
import json
import shutil
import struct
import threading
import urllib.request
from pathlib import Path

import pytest
import yaml
from vcr.request import Request

from embedlab.grading import cassettes
from embedlab.instructor import lint

from .conftest import ROOT, SETS, clean_env, run_cli, run_pytest


def request(body: dict, url: str = "https://a.example/v1/embeddings") -> Request:
    return Request("POST", url, json.dumps(body), {"Content-Type": "application/json"})


def matches(a: Request, b: Request) -> bool:
    try:
        cassettes.model_and_input(a, b)
        cassettes.embeddings_endpoint(a, b)
    except AssertionError:
        return False
    return True


def test_a_bare_string_and_a_one_item_list_are_the_same_input():
    assert matches(request({"model": "m", "input": "a cat"}), request({"model": "m", "input": ["a cat"]}))


def test_host_port_and_encoding_format_do_not_matter():
    recorded = request({"model": "m", "input": ["a", "b"], "encoding_format": "base64"}, "https://embeddings.invalid/v1/embeddings")
    asked = request({"model": "m", "input": ["a", "b"], "encoding_format": "float"}, "http://127.0.0.1:8000/v1/embeddings")
    assert matches(recorded, asked)


@pytest.mark.parametrize(
    "other",
    [{"model": "other", "input": ["a", "b"]}, {"model": "m", "input": ["b", "a"]}, {"model": "m", "input": ["a"]}],
    ids=["model", "order", "texts"],
)
def test_the_model_and_the_texts_do_matter(other):
    assert not matches(request({"model": "m", "input": ["a", "b"]}), request(other))


def test_recorded_vectors_are_floats_whatever_the_call_asked_for():
    vector = [0.5, -0.25, 0.125]
    payload = {"data": [{"index": 0, "embedding": base64.b64encode(struct.pack("<3f", *vector)).decode()}]}
    response = {"status": {"code": 200}, "headers": {"Set-Cookie": ["s=1"], "Content-Type": ["application/json"]},
                "body": {"string": json.dumps(payload).encode()}}
    scrubbed = cassettes.scrub_response(response)
    assert json.loads(scrubbed["body"]["string"])["data"][0]["embedding"] == vector
    assert list(scrubbed["headers"]) == ["Content-Type"]
    assert cassettes.scrub_response({"status": {"code": 429}, "headers": {}, "body": {"string": b"{}"}}) is None


def test_a_cassette_is_loaded_as_data_never_as_code(tmp_path):
    evil = tmp_path / "test_1_embed.yaml"
    evil.write_text("interactions: !!python/object/apply:os.system ['echo owned > owned.txt']\n")
    with pytest.raises(yaml.YAMLError):
        cassettes.load_interactions(evil)
    assert not (tmp_path / "owned.txt").exists()


@pytest.fixture
def planted(tmp_path) -> Path:
    """A copy of a real set with one of each problem the lint must find."""
    target = tmp_path / "planted"
    shutil.copytree(ROOT / "cassettes" / SETS[0], target)
    path = target / "test_1_embed.yaml"
    data = yaml.safe_load(path.read_text())
    first, second, third, fourth = data["interactions"][:4]
    first["request"]["headers"]["Authorization"] = ["Bearer sk-planted-0123456789"]
    second["request"]["uri"] = "https://api.openai.com/v1/embeddings"
    third["response"]["status"]["code"] = 500
    fourth["request"]["body"]["json"]["model"] = "text-embedding-3-small"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    shutil.copy(path, target / "test_9_nothing.yaml")
    (target / "test_2_similarity.yaml").write_text("interactions: !!python/object/new:os.system ['true']\n")
    return target


def test_the_lint_finds_every_planted_problem(planted):
    problems = "\n".join(lint.check_set(ROOT, planted))
    for expected in (
        "request header 'Authorization' should have been scrubbed",
        "looks like a credential",
        "request to a real host ('api.openai.com')",
        "response status 500",
        "model 'text-embedding-3-small', but the manifest says",
        "test_9_nothing.yaml: no test module tests/test_9_nothing.py",
        "test_2_similarity.yaml: not a safe-YAML cassette",
    ):
        assert expected in problems, problems


def test_the_shipped_sets_pass_the_lint():
    done = run_cli("cassettes", "check")
    assert done.returncode == 0, done.stdout
    assert all(f"{name}: ok" in done.stdout for name in SETS)


KEY = "sk-canary-key-0123456789"
CANARIES = (KEY, "ORG-CANARY", "PROJ-CANARY", "COOKIE-CANARY", "RESP-ORG-CANARY", "req-canary")


class CanaryProxy(http.server.ThreadingHTTPServer):
    """A real HTTP hop in front of `embedlab serve` that answers like OpenAI does: identifying
    headers and a cookie on every response (the client then sends the cookie back)."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        super().__init__(("127.0.0.1", 0), _Forward)


class _Forward(http.server.BaseHTTPRequestHandler):
    def _forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        path = self.path.split("/v1", 1)[-1]
        headers = {k: v for k, v in self.headers.items() if k.lower() in ("authorization", "content-type")}
        upstream = urllib.request.Request(self.server.upstream + path, data=body, headers=headers, method=self.command)
        try:
            with urllib.request.urlopen(upstream, timeout=30) as answer:
                status, content = answer.status, answer.read()
        except urllib.error.HTTPError as err:
            status, content = err.code, err.read()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(content)))
        self.send_header("Set-Cookie", "session=COOKIE-CANARY; Path=/")
        self.send_header("OpenAI-Organization", "RESP-ORG-CANARY")
        self.send_header("X-Request-Id", "req-canary")
        self.end_headers()
        self.wfile.write(content)

    do_GET = do_POST = _forward

    def log_message(self, *args) -> None:
        pass


def test_recording_scrubs_keys_organisations_projects_cookies_and_hosts(tmp_path):
    """End to end: record through a real server with a canary key, organisation, project and
    cookie; none of them, nor the host, lands in the written files; the new set replays."""
    from embedlab.server.launch import LocalServer

    library = tmp_path / "library"
    with LocalServer("--api-key", KEY) as server:
        proxy = CanaryProxy(server.base_url)
        threading.Thread(target=proxy.serve_forever, daemon=True).start()
        try:
            address = f"127.0.0.1:{proxy.server_address[1]}"
            env = clean_env(
                OPENAI_BASE_URL=f"http://{address}/v1",
                OPENAI_API_KEY=KEY,
                OPENAI_ORG_ID="ORG-CANARY",
                OPENAI_PROJECT_ID="PROJ-CANARY",
                EMBED_MODEL=server.model,
            )
            done = run_cli("record", "--cassettes=canary", f"--cassette-dir={library}", env=env)
        finally:
            proxy.shutdown()
    assert done.returncode == 0, done.stdout + done.stderr
    written = {p: p.read_text() for p in (library / "canary").iterdir()}
    assert {p.name for p in written} == {"manifest.json", "test_1_embed.yaml", "test_2_similarity.yaml", "test_3_challenges.yaml", "test_5_top_k.yaml", "test_6_vector_store.yaml", "test_7_near_duplicates.yaml", "test_8_classify.yaml"}
    for path, text in written.items():
        for leaked in (*CANARIES, address, "127.0.0.1", "Bearer"):
            assert leaked not in text, (path.name, leaked)
    replay = run_pytest("--solutions", "--live=off", "--cassettes=canary", f"--cassette-dir={library}", tmp_path=tmp_path)
    assert replay.code == 0 and replay.results["score"] == replay.results["max_score"], replay.output


def test_a_request_without_a_recording_is_explained_not_vcrs_error(tmp_path):
    library = tmp_path / "library"
    shutil.copytree(ROOT / "cassettes" / SETS[0], library / "thin")
    (library / "thin" / "test_1_embed.yaml").write_text("version: 1\ninteractions: []\n")
    run = run_pytest("--solutions", "--live=off", "--cassettes=thin", f"--cassette-dir={library}", "tests/test_1_embed.py", tmp_path=tmp_path)
    assert run.code == 1
    assert "Can't overwrite existing cassette" not in run.output and "CannotOverwrite" not in run.output
    assert "no recorded request matches what it sent" in run.output and "embedlab record" in run.output

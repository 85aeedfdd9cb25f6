"""The models behind the server: each turns a list of texts into unit-length vectors and
counts the tokens it processed for each text.

- `WordLlamaBackend`: the model bundled in the `wordllama` wheel (numpy only, no download).
  A static model: a text's vector is the mean of its tokens' rows in one embedding matrix.
- `SentenceTransformerBackend`: any sentence-transformers model from local files (a folder,
  the `embedlab fetch-model` cache, or a name already in the Hugging Face cache); never
  downloads.

Token counts are per text and exactly what the model processed, so a batch and the same texts
sent one by one add up to the same `usage`.

`embed` is called from one worker thread only (see `batching`), never from the event loop;
`count_tokens` may run in other threads at the same time, so it uses its own tokenizer.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from embedlab.server import known_models

WORDLLAMA_NAME = "wordllama-l2-supercat"
DEFAULT_ST_MODEL = "all-MiniLM-L6-v2"
BACKENDS = ("wordllama", "sentence-transformers")

# How WordLlamaBackend pools tokens: chunks of at most this many texts / about this many tokens.
_POOL_TEXTS = 64
_POOL_TOKENS = 1024


class BackendError(Exception):
    """The model cannot be loaded; the message says what to do."""


@dataclass(frozen=True)
class Embedded:
    vectors: np.ndarray  # (len(texts), dimensions) float32, each row of unit length
    token_counts: list[int]


class Backend(ABC):
    kind: str  # the --backend value
    name: str  # the default served name
    description: str  # one line for the startup banner
    dimensions: int
    supports_dimensions: bool  # whether truncating to `dimensions` keeps a meaningful vector
    # One model call (a chunk, see `batching`): at most this many texts and characters. A
    # request waits for at most one chunk of another's, so a chunk should take well under a second.
    chunk_texts: int
    chunk_chars: int | None = None
    sort_by_length: bool = False  # whether texts of similar length should share a call (padding)
    max_text_tokens: int | None = None  # the most tokens the model keeps of one text, if it truncates

    @abstractmethod
    def embed(self, texts: list[str]) -> Embedded: ...

    @abstractmethod
    def count_tokens(self, texts: list[str]) -> int:
        """How many tokens `embed(texts)` would process (its usage), without running the model."""


_TINY = float(np.finfo(np.float32).tiny)


def normalize(vectors: np.ndarray) -> np.ndarray:
    """Scale each row to unit length, in place (a zero row stays zero)."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    vectors /= np.maximum(norms, _TINY)
    return vectors


class WordLlamaBackend(Backend):
    kind = "wordllama"
    name = WORDLLAMA_NAME
    # WordLlama is trained Matryoshka-style (64, 128, 256 leading dimensions), so a truncated,
    # re-normalised vector is still a good embedding.
    supports_dimensions = True
    # Pooling costs about one microsecond per token: a chunk of 64k characters (some 16k
    # tokens) takes a few milliseconds, and a few hundred short texts share one call.
    chunk_texts = 1024
    chunk_chars = 65_536

    def __init__(self) -> None:
        try:
            with _root_logging_untouched():  # `import wordllama` calls logging.basicConfig(INFO)
                import wordllama
                from tokenizers import Tokenizer
        except ImportError as exc:
            raise BackendError(f'the WordLlama backend needs the `local` extra ({exc}): pip install -e ".[local]"') from None
        package_dir = Path(wordllama.__file__).parent
        with _root_logging_untouched():
            # The wheel holds the weights and the tokenizer; disable_download keeps it offline.
            model = wordllama.WordLlama.load(cache_dir=package_dir, disable_download=True)
        self._matrix = np.ascontiguousarray(model.embedding, dtype=np.float32)
        # Our own copy of the tokenizer, without the padding WordLlama turns on: we pool
        # variable-length token lists directly, so a padded batch would only waste work.
        self._tokenizer = Tokenizer.from_str(model.tokenizer.to_str())
        self._tokenizer.no_padding()
        self._tokenizer.no_truncation()
        # WordLlama clamps ids past the matrix's last row; with this tokenizer there are none.
        self._clip_ids = self._tokenizer.get_vocab_size(with_added_tokens=True) > self._matrix.shape[0]
        self.dimensions = int(self._matrix.shape[1])
        self.description = f"WordLlama l2_supercat, {self.dimensions} dimensions, bundled with the wordllama package"

    def count_tokens(self, texts: list[str]) -> int:
        return sum(len(e.ids) for e in self._encode(texts))

    def _encode(self, texts: list[str]) -> list:
        encode = getattr(self._tokenizer, "encode_batch_fast", self._tokenizer.encode_batch)  # no offsets
        return encode(texts, add_special_tokens=False)

    def embed(self, texts: list[str]) -> Embedded:
        # Tokenize once: the ids give both the vector (the mean of the tokens' rows, computed as
        # a sum since the vector is normalised afterwards) and the usage count.
        token_ids = [e.ids for e in self._encode(texts)]
        lengths = np.fromiter(map(len, token_ids), dtype=np.int64, count=len(token_ids))
        ids = np.fromiter(itertools.chain.from_iterable(token_ids), dtype=np.int64, count=int(lengths.sum()))
        if self._clip_ids:
            np.clip(ids, 0, self._matrix.shape[0] - 1, out=ids)
        return Embedded(normalize(self._sum_rows(ids, lengths)), lengths.tolist())

    def _sum_rows(self, ids: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """Row i = the sum of the matrix rows of text i's tokens.

        Done a chunk of texts at a time so that a chunk's token rows stay in the CPU cache:
        gathering every row of a big batch at once is several times slower. No BLAS (a matrix
        product would do it too, but BLAS threads fight the server's threads for the cores).
        """
        ends = np.cumsum(lengths)
        out = np.zeros((len(lengths), self.dimensions), dtype=np.float32)  # an empty text stays 0
        i, n = 0, len(lengths)
        while i < n:
            start = int(ends[i] - lengths[i])
            j = int(np.searchsorted(ends, start + _POOL_TOKENS, side="right"))
            j = min(max(j, i + 1), i + _POOL_TEXTS, n)
            stop = int(ends[j - 1])
            if stop > start:
                present = lengths[i:j] > 0
                offsets = (ends[i:j] - lengths[i:j] - start)[present]
                out[i:j][present] = np.add.reduceat(self._matrix[ids[start:stop]], offsets, axis=0)
            i = j
        return out


class SentenceTransformerBackend(Backend):
    kind = "sentence-transformers"
    # A model trained without Matryoshka loss gives no meaningful prefix of its vector, so
    # `dimensions` is refused, as OpenAI refuses it for text-embedding-ada-002.
    supports_dimensions = False
    sort_by_length = True
    # One forward pass per chunk, as `encode(texts, batch_size=32)` does in-process: 32 texts is
    # where all-MiniLM-L6-v2 ran fastest on a 2-core CPU, or within a few percent of the fastest
    # (benchmarks/bench_server.py tries 16 to 256), and a chunk of short texts then takes about
    # a sixth of a second, the longest a one-text request waits behind a big one.
    chunk_texts = 32

    def __init__(self, model: str, cache_dir: Path | None = None) -> None:
        location, self.name = resolve_sentence_transformer(model, cache_dir)
        _prepare_environment()
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise BackendError(f'the sentence-transformers backend needs the `st` extra ({exc}): pip install -e ".[st]"') from None
        try:
            # CPU always, so the vectors do not depend on the machine's accelerator.
            self._model = SentenceTransformer(location, device="cpu", local_files_only=True)
        except Exception as exc:  # noqa: BLE001 - any load failure becomes one clear message
            raise BackendError(
                f"could not load the sentence-transformers model {model!r} from local files: {exc}. "
                "Pass a model folder, or run `embedlab fetch-model all-MiniLM-L6-v2` and use that name."
            ) from None
        self.max_text_tokens = int(self._model.max_seq_length)
        self._counter = _token_counter(self._model.tokenizer, self.max_text_tokens)
        self.dimensions = int(self._model.get_embedding_dimension())
        self.description = f"sentence-transformers model from {location}, {self.dimensions} dimensions, at most {self._model.max_seq_length} tokens per text"

    def embed(self, texts: list[str]) -> Embedded:
        import torch

        # output_value=None returns every output of the forward pass, the attention mask
        # included: the tokens the model really processed (special tokens in, padding out,
        # truncation applied), from the one tokenization that encode() does.
        outputs = self._model.encode(texts, batch_size=self.chunk_texts, output_value=None, show_progress_bar=False)
        vectors = torch.stack([o["sentence_embedding"] for o in outputs]).float().numpy()
        if all("attention_mask" in o for o in outputs):
            counts = [int(o["attention_mask"].sum()) for o in outputs]
        else:
            counts = self._count_tokens(texts)
        return Embedded(normalize(np.array(vectors, dtype=np.float32)), counts)

    def count_tokens(self, texts: list[str]) -> int:
        if self._counter is not None:
            return sum(len(e.ids) for e in self._counter.encode_batch(texts))
        return sum(self._count_tokens(texts))

    def _count_tokens(self, texts: list[str]) -> list[int]:
        """For models whose outputs carry no attention mask: the tokenizer's own count."""
        tokenizer = self._model.tokenizer
        encoded = tokenizer(texts, truncation=True, max_length=self._model.max_seq_length)
        return [len(ids) for ids in encoded["input_ids"]]


def _token_counter(tokenizer: object, max_length: int):  # -> tokenizers.Tokenizer | None
    """A copy of a fast tokenizer that truncates as the model does and never pads: its counts are
    the attention mask's. A copy, because a transformers tokenizer changes its own settings on
    each call, and counting runs beside the model's own tokenizing."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        return None
    from tokenizers import Tokenizer

    counter = Tokenizer.from_str(backend.to_str())
    counter.no_padding()
    counter.enable_truncation(max_length)
    return counter


def resolve_sentence_transformer(model: str, cache_dir: Path | None = None) -> tuple[str, str]:
    """Where to load `model` from, and its default served name (the last part of its name).

    In order: an existing folder; the same name in the `embedlab fetch-model` cache; a name
    sentence-transformers may find in its own local cache.
    """
    path = Path(model).expanduser()
    if path.is_dir():
        return str(path.resolve()), path.resolve().name
    known = known_models.find_known(model)
    if known is not None:
        cached = known_models.cached_model_dir(known, cache_dir)
        if (cached / "modules.json").is_file() or (cached / "config.json").is_file():
            return str(cached), known.name
        raise BackendError(
            f"{known.name} is not in the local model cache ({cached}). "
            f"Get it with: embedlab fetch-model {known.name}" + (f" --cache-dir {cache_dir}" if cache_dir else "")
        )
    if model.startswith((".", "/", "~")) or (os.altsep and os.altsep in model):
        raise BackendError(f"no model folder at {path}")
    return model, model.rstrip("/").rsplit("/", 1)[-1]  # e.g. org/name, for sentence-transformers' cache


def load_backend(kind: str, model: str | None = None, cache_dir: Path | None = None, chunk_texts: int | None = None) -> Backend:
    if kind == "wordllama":
        if model not in (None, WORDLLAMA_NAME):
            raise BackendError(
                "the wordllama backend serves only its bundled model: leave out --model (or use --backend sentence-transformers for another model)"
            )
        backend: Backend = WordLlamaBackend()
    elif kind == "sentence-transformers":
        backend = SentenceTransformerBackend(model or DEFAULT_ST_MODEL, cache_dir)
    else:
        raise BackendError(f"unknown backend {kind!r}: choose one of {', '.join(BACKENDS)}")
    if chunk_texts is not None:
        backend.chunk_texts = chunk_texts
    return backend


def _prepare_environment() -> None:
    """Set before torch and the Hugging Face libraries are imported (they read it once):

    - never reach for the Hugging Face hub (unreachable here, in CI and offline);
    - no download progress bars or advisory warnings on the console;
    - idle OpenMP threads sleep instead of spinning. A spinning thread holds a core that the
      event loop (or anything else on the machine) needs, and every torch operation then waits
      for its slowest thread: measured on 2 cores, sentence-transformers ran 3 times slower
      whenever the cores were shared, and the server always shares them.
    """
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


@contextlib.contextmanager
def _root_logging_untouched() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)

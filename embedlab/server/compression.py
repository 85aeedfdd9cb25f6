"""Compressed bodies both ways: requests sent with `Content-Encoding: gzip` or `deflate`, and
large responses gzipped for a client that sends `Accept-Encoding: gzip`.

A request body is inflated under the same size limit as a plain one, counted after inflating:
the inflater is never asked for more than the limit plus one byte, so a "gzip bomb" (a few
kilobytes that inflate to gigabytes) costs at most the limit in memory and time before its 413.
An encoding other than gzip, deflate (zlib, or raw deflate as some clients send it) and identity
gets a 415 naming it.

Responses: gzip with Huffman coding alone (no search for repeats). An embeddings response is
made of few distinct characters (digits and `,.-e` for float, base64's 64 for base64) and has
almost no repeats to find, so this compresses as well as zlib's level 1 (float: 2.1 times smaller;
base64: 1.3 times) in half to a quarter of its time (once, on the 2-core course machine: 7.5 ms
against 13.9 ms for 256 float vectors of 256 dimensions, 1.9 ms against 7.6 ms as base64).
`benchmarks/bench_server.py --gzip-only` measures what it costs a round trip. Small answers
(errors, one short vector) go as they are.
"""

from __future__ import annotations

import zlib

from embedlab.server import errors

READ_CODINGS = ("gzip", "deflate", "identity")
_ALIASES = {"x-gzip": "gzip"}

_MAX_MEMBERS = 16  # gzip members in one body (clients send one); each costs a copy of what follows it
GZIP_MIN_BYTES = 16 * 1024  # smaller answers are a few packets: compressing them saves nothing worth having
GZIP_LEVEL = 1


def request_codings(header: str) -> list[str]:
    """The codings of `Content-Encoding`, in the order they were applied, identity left out;
    415 for one this server cannot undo."""
    codings = []
    for token in header.split(","):
        name = token.strip().lower()
        name = _ALIASES.get(name, name)
        if not name or name == "identity":
            continue
        if name not in READ_CODINGS:
            raise errors.unsupported_encoding(token.strip())
        codings.append(name)
    return codings


def inflate(data: bytes, codings: list[str], limit: int) -> bytes:
    """`data` with `codings` undone (last applied first); 413 past `limit` bytes at any step."""
    for coding in reversed(codings):
        data = _inflate(data, coding, limit)
    return data


def _inflate(data: bytes, coding: str, limit: int) -> bytes:
    if coding == "gzip":
        return _run(data, 31, coding, limit)  # wbits 16+15: a gzip header and trailer
    try:
        return _run(data, 15, coding, limit)  # HTTP's deflate is zlib's format (RFC 9110)...
    except errors.APIError as exc:
        if exc.status != 400:
            raise
        return _run(data, -15, coding, limit)  # ...but some clients send raw deflate


def _run(data: bytes, wbits: int, coding: str, limit: int) -> bytes:
    parts: list[bytes] = []
    size = 0
    for _ in range(_MAX_MEMBERS):  # a gzip body may hold several members, one after the other
        inflater = zlib.decompressobj(wbits)
        try:
            part = inflater.decompress(data, limit - size + 1)
        except zlib.error:
            raise errors.bad_encoding(coding) from None
        size += len(part)
        if size > limit or inflater.unconsumed_tail:
            raise errors.inflated_too_large(limit)
        parts.append(part)
        if not inflater.eof:
            raise errors.bad_encoding(coding)  # cut short
        data = inflater.unused_data
        if wbits != 31 or not data:
            return b"".join(parts)
    raise errors.bad_encoding(coding)


def accepts_gzip(header: str) -> bool:
    """Whether `Accept-Encoding` allows gzip (`gzip`, `x-gzip` or `*`, with a q-value above 0)."""
    allowed = None
    for item in header.split(","):
        name, _, params = item.partition(";")
        name = name.strip().lower()
        if name not in ("gzip", "x-gzip", "*"):
            continue
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if name == "*":
            allowed = q > 0 if allowed is None else allowed  # an explicit gzip entry wins
        else:
            allowed = q > 0
    return bool(allowed)


def gzip_body(content: bytes) -> bytes:
    packer = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31, 9, zlib.Z_HUFFMAN_ONLY)
    return packer.compress(content) + packer.flush()

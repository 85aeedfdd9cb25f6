"""The rules a `POST /v1/embeddings` body must follow, checked before any model work.

`parse_embedding_request` turns raw JSON into an `EmbeddingRequest` or raises an `APIError`
(400 or 404) whose message names the field and says what was expected, in the style of
OpenAI's own validation errors ("Invalid type for 'input[2]': expected a string, ...").

`input` is what OpenAI takes: a string, an array of strings, or token ids of OpenAI's
`cl100k_base` tokenizer, one array (`int[]`) or several (`int[][]`), as LangChain sends by
default. Token ids are only checked for shape here; `tokens` turns them back into text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from embedlab.server.errors import APIError, invalid, model_not_found, shown

# The fields OpenAI's embeddings endpoint accepts. Anything else is refused, as OpenAI does,
# so a typo such as "inputs" fails loudly instead of being ignored.
KNOWN_FIELDS = ("model", "input", "encoding_format", "dimensions", "user")
ENCODINGS = ("float", "base64")

EncodingFormat = Literal["float", "base64"]


@dataclass(frozen=True)
class Limits:
    """What one request may hold. The defaults follow OpenAI's: 2048 inputs and 300,000 tokens
    per request; 32,768 characters is about 8,192 tokens of English, OpenAI's limit per input."""

    max_inputs: int = 2048
    max_chars: int = 32_768
    max_tokens: int = 300_000
    max_body_bytes: int = 32 * 1024 * 1024


@dataclass(frozen=True)
class ModelInfo:
    """What validation needs to know about the served model."""

    name: str
    dimensions: int
    supports_dimensions: bool


@dataclass(frozen=True)
class TokenInput:
    """`input` given as token ids: one list of ids per text."""

    ids: list[list[int]]
    nested: bool  # sent as `int[][]` (else one `int[]`): how a message names a position


@dataclass(frozen=True)
class EmbeddingRequest:
    texts: list[str]  # empty while `tokens` holds the input
    encoding_format: EncodingFormat
    dimensions: int | None
    tokens: TokenInput | None = None


class HugeInt(int):
    """An integer too long for Python to read (over 4,000 digits): it stands for its sign."""

    def __new__(cls, digits: str) -> HugeInt:
        sign = -1 if digits.startswith("-") else 1
        number = super().__new__(cls, sign * 10**18)
        number.digits = len(digits.lstrip("-"))
        return number

    def __str__(self) -> str:
        return f"a {self.digits}-digit integer"

    __repr__ = __str__


_INT_DIGITS = 4000  # below Python's own limit on converting a string to int (4,300)


def _parse_int(digits: str) -> int:
    return int(digits) if len(digits) <= _INT_DIGITS else HugeInt(digits)


_DECODER = json.JSONDecoder(parse_int=_parse_int)  # made once: json.loads(..., parse_int=) makes one per call


def json_type(value: Any) -> str:
    """The JSON name of a value's type, with its article, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


_BOM = b"\xef\xbb\xbf"  # a UTF-8 byte order mark, which some editors and Windows tools write first


def parse_json(body: bytes) -> Any:
    if body.startswith(_BOM):
        body = body[len(_BOM) :]
    try:
        return _DECODER.decode(body.decode("utf-8"))
    except (ValueError, RecursionError):  # includes invalid UTF-8 and absurdly nested arrays
        raise invalid("We could not parse the JSON body of your request. The API expects a JSON payload, but what was sent was not valid JSON.") from None


def parse_embedding_request(payload: Any, model: ModelInfo, limits: Limits) -> EmbeddingRequest:
    if not isinstance(payload, dict):
        raise invalid(f"The request body must be a JSON object, but got {json_type(payload)}.")
    for field in payload:
        if field not in KNOWN_FIELDS:
            name = shown(field)
            raise invalid(f"Unrecognized request argument supplied: {name}", param=name, code="unknown_parameter")

    check_model(payload, model)
    texts = check_input(payload, limits)
    encoding_format = check_encoding_format(payload.get("encoding_format"))
    dimensions = check_dimensions(payload.get("dimensions"), model)
    user = payload.get("user")
    if user is not None and not isinstance(user, str):
        raise _wrong_type("user", "a string", user)
    if isinstance(texts, TokenInput):
        return EmbeddingRequest(texts=[], encoding_format=encoding_format, dimensions=dimensions, tokens=texts)
    return EmbeddingRequest(texts=texts, encoding_format=encoding_format, dimensions=dimensions)


def check_model(payload: dict[str, Any], model: ModelInfo) -> None:
    if "model" not in payload:
        raise _missing("model")
    name = payload["model"]
    if not isinstance(name, str):
        raise _wrong_type("model", "a string", name)
    if name != model.name:
        raise model_not_found(name, model.name)


def check_input(payload: dict[str, Any], limits: Limits) -> list[str] | TokenInput:
    if "input" not in payload:
        raise _missing("input")
    value = payload["input"]
    if isinstance(value, str):
        check_text("input", value, limits)
        return [value]
    if not isinstance(value, list):
        raise _wrong_type("input", "a string or an array of strings", value)
    if not value:
        raise _empty_array("input")
    if all(_is_int(x) for x in value):  # [1820, 4937, 374]: one text as token ids
        return TokenInput([value], nested=False)
    if all(isinstance(x, list) for x in value):  # [[1820, 4937], [374]]: several
        return _check_token_arrays(value, limits)
    _check_length(value, limits)
    for i, text in enumerate(value):
        if not isinstance(text, str):
            raise _wrong_type(f"input[{i}]", "a string", text)
        check_text(f"input[{i}]", text, limits)
    return value


def _check_token_arrays(value: list[list[Any]], limits: Limits) -> TokenInput:
    _check_length(value, limits)
    for i, ids in enumerate(value):
        if not ids:
            raise _empty_array(f"input[{i}]")
        for j, token in enumerate(ids):
            if not _is_int(token):
                raise _wrong_type(f"input[{i}][{j}]", "an integer (a token id)", token)
    return TokenInput(value, nested=True)


def _check_length(value: list[Any], limits: Limits) -> None:
    if len(value) > limits.max_inputs:
        raise invalid(
            f"Invalid 'input': array too long. Expected an array with maximum length {limits.max_inputs}, "
            f"but got an array with length {len(value)} instead. Send the texts in several requests.",
            param="input",
            code="array_above_max_length",
        )


def _empty_array(param: str) -> APIError:
    return invalid(
        f"Invalid '{param}': empty array. Expected an array with minimum length 1, but got an empty array instead.",
        param=param,
        code="empty_array",
    )


def check_encoding_format(value: Any) -> EncodingFormat:
    if value is None:
        return "float"
    if value not in ENCODINGS:
        raise invalid(
            f"Invalid value for 'encoding_format' = {_shown_value(value)}. Supported values: ['float', 'base64'].",
            param="encoding_format",
            code="invalid_value",
        )
    return value


def check_dimensions(value: Any, model: ModelInfo) -> int | None:
    if value is None:
        return None
    if not _is_int(value):
        raise _wrong_type("dimensions", "an integer", value)
    if not model.supports_dimensions:
        raise invalid(
            f"This model does not support specifying dimensions. `{model.name}` always returns {model.dimensions} dimensions: leave out `dimensions`.",
            param="dimensions",
        )
    if value < 1:
        raise invalid(
            f"Invalid 'dimensions': integer below minimum value. Expected a value >= 1, but got {value} instead.",
            param="dimensions",
            code="integer_below_min_value",
        )
    if value > model.dimensions:
        raise invalid(
            f"Invalid 'dimensions': integer above maximum value. Expected a value <= {model.dimensions} (the model's size), but got {value} instead.",
            param="dimensions",
            code="integer_above_max_value",
        )
    return value


def check_text(param: str, text: str, limits: Limits) -> None:
    if not text:
        raise invalid(
            f"Invalid '{param}': empty string. Expected a string with minimum length 1, but got an empty string instead.",
            param=param,
            code="empty_string",
        )
    if len(text) > limits.max_chars:
        raise invalid(
            f"Invalid '{param}': string too long. Expected a string with maximum length {limits.max_chars} "
            f"(this server's --max-chars), but got a string with length {len(text)} instead. "
            "Split the text into smaller pieces.",
            param=param,
            code="string_above_max_length",
        )
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:  # JSON can carry a lone surrogate ("\ud800"); no tokenizer takes it
            raise invalid(
                f"Invalid '{param}': the string is not valid Unicode text: it holds a lone surrogate "
                f"(\\u{ord(text[exc.start]):04x}) at position {exc.start}. Send text as UTF-8, not halves of "
                "UTF-16 pairs.",
                param=param,
                code="invalid_value",
            ) from None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _shown_value(value: Any) -> str:
    if isinstance(value, str):
        return shown(value)
    if isinstance(value, HugeInt):
        return str(value)
    return shown(json.dumps(value))


def _missing(field: str) -> APIError:
    return invalid(f"Missing required parameter: '{field}'.", param=field, code="missing_required_parameter")


def _wrong_type(param: str, expected: str, got: Any) -> APIError:
    return invalid(
        f"Invalid type for '{param}': expected {expected}, but got {json_type(got)} instead.",
        param=param,
        code="invalid_type",
    )

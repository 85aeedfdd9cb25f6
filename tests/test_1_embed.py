"""Exercise 1 — embed() in exercises/embed.py: texts in, one row of numbers per text out."""

import json
import re

import httpx2
import numpy as np
import pytest
from hypothesis import (  # noqa: F401 - the generated-input checks below
    assume,
    given,
    strategies as st,  # noqa: F401
)

from embedlab.testing import a_or_an, attempt, brief, expect, fail, watch
from tests.generated import (  # noqa: F401
    FORMS,
    Generated,
    all_axes,
    assign,
    budget,
    close,
    cosine_exact,
    exactly_tied,
    examples_st,
    is_plain_float,
    out_of_order,
    run,
    shown_vector,
    texts_st,
    top_k_cases,
    top_k_expected,
    top_k_scores,
    vector_pairs,
    word,
)
from tests.reference import expect_defaults_used, raises
from tests.synthetic import Synthetic

TEXTS = ["The cat sat on the mat.", "A feline rested on the rug.", "We deployed the web server at noon."]
QUERY = "a sleeping cat"
SHOWN = f"embed({brief(TEXTS)})"  # how a message names the call: what the list holds, not a test-only name

pytestmark = pytest.mark.exercise("embed")


@pytest.fixture
def embed(target):
    return target.function("embed", "embed")


def check_matrix(result, expected: np.ndarray, shown: str) -> None:
    expect(
        isinstance(result, np.ndarray),
        f"{shown} returned {a_or_an(type(result).__name__)}; return a numpy array — np.array(rows) makes one",
    )
    if not np.issubdtype(result.dtype, np.floating):
        first = result.ravel()[0] if result.size else None
        if "Embedding" in type(first).__name__:
            fail(
                f"{shown} holds the response's Embedding items, not numbers: np.array(response.data) keeps the "
                "objects. Take each item's .embedding (a list of floats) and make the array from those"
            )
        if isinstance(first, str) or result.dtype.kind == "U":
            fail(
                f"{shown} holds text, not numbers. Did you ask for encoding_format='base64' and keep the strings? "
                "Leave encoding_format out (the client decodes the vectors for you)"
            )
        fail(f"{shown} holds {result.dtype} values ({brief(first)}), not floats: each row should be a vector of numbers")
    expect(
        result.shape == expected.shape,
        f"{shown} returned an array of shape {result.shape}; expected {expected.shape}: "
        f"one row per text, {expected.shape[1]} numbers per row",
    )


def check_rows(result: np.ndarray, expected: np.ndarray, shown: str) -> None:
    for i, row in enumerate(result):
        if np.allclose(row, expected[i], rtol=1e-5, atol=1e-6):
            continue
        elsewhere = [j for j in range(len(expected)) if np.allclose(row, expected[j], rtol=1e-5, atol=1e-6)]
        if elsewhere:
            fail(
                f"{shown}: row {i} holds the vector of text {elsewhere[0]}. Place each item of "
                "response.data by its .index, so row i belongs to texts[i]"
            )
        fail(f"{shown}: row {i} is not the vector the endpoint returned for texts[{i}]")


@pytest.mark.points(2)
def test_returns_a_float_array_with_one_row_per_text(embed, api):
    """Returns a float array with one row per text"""
    result = api.call(embed, TEXTS)
    check_matrix(result, api.vectors(TEXTS), SHOWN)


@pytest.mark.lesson
@pytest.mark.points(2)
def test_rows_hold_the_endpoints_vectors(embed, api):
    """Row i holds the endpoint's vector for texts[i], and the list is left as it was"""
    texts = list(TEXTS)
    result = api.call(embed, watch(texts))
    expected = api.vectors(TEXTS)
    api.expect_explained(TEXTS, SHOWN)
    check_matrix(result, expected, SHOWN)
    check_rows(result, expected, SHOWN)
    expect(texts == TEXTS, f"{SHOWN} changed the list it was given into {texts}; build a new list instead")


@pytest.mark.lesson
@pytest.mark.points(2)
def test_one_request_for_the_whole_list(embed, api):
    """Sends one request for the whole list"""
    for text in TEXTS:  # recorded, so a one-request-per-text answer gets this far and hears why
        api.vectors([text])
    api.call(embed, TEXTS)
    expect(api.sent, f"{SHOWN} sent no request through the `client` it was given: use that client")
    expect(
        len(api.sent) == 1,
        f"{SHOWN} made {len(api.sent)} requests for {len(TEXTS)} texts; "
        "one request can carry the whole list: input=texts",
    )
    expect(api.sent[0].texts == TEXTS, f"{SHOWN} sent {api.sent[0].texts}; expected the texts, in order: {TEXTS}")


@pytest.mark.synthetic
@pytest.mark.points(1)
def test_sends_the_model_it_is_given(embed, synthetic_api):
    """Sends the model it is given, not a fixed name"""
    api = synthetic_api(Synthetic())  # a model name made up for this test: no one could write it in
    api.call(embed, TEXTS)
    expect(api.sent, f"{SHOWN} sent no request through the `client` it was given: use that client")
    for sent in api.sent:
        expect(
            sent.inputs and sent.inputs.model == api.model,
            f"embed sent model {sent.inputs.model if sent.inputs else None!r}, but was given model={api.model!r}",
        )


@pytest.mark.points(1)
def test_a_bare_string_is_one_text(embed, api):
    """A bare string is one text: shape (1, dim)"""
    expected = api.vectors([QUERY])
    result = api.call(
        embed, QUERY, hint="A bare string is one text: make it [texts] rather than a list of its characters."
    )
    check_matrix(result, expected, f"embed({QUERY!r})")
    check_rows(result, expected, f"embed({QUERY!r})")


@pytest.mark.synthetic
@pytest.mark.points(2)
def test_rows_follow_each_items_index(embed, synthetic_api):
    """Rows follow each item's index, not the order items arrive in"""

    def shuffled(request: httpx2.Request) -> httpx2.Response:
        # Synthetic: a server may list items in any order; each names its input by `index`.
        body = json.loads(request.content)
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        items = [{"object": "embedding", "index": i, "embedding": [float(i + 1), 1.0, 0.5]} for i in range(len(texts))]
        usage = {"prompt_tokens": len(texts), "total_tokens": len(texts)}
        return httpx2.Response(200, json={"object": "list", "data": items[::-1], "model": body["model"], "usage": usage})

    api = synthetic_api(shuffled)
    result = api.call(embed, TEXTS)
    expect(
        len(api.sent) == 1,
        f"{SHOWN} made {len(api.sent)} requests for {len(TEXTS)} texts; one request must carry the whole list "
        "(input=texts): only then do the items' indexes say which text each vector belongs to",
    )
    expected = np.array([[float(i + 1), 1.0, 0.5] for i in range(len(TEXTS))])
    check_matrix(result, expected, SHOWN)
    if np.allclose(result, expected[::-1]):
        fail(
            f"{SHOWN} kept the items in the order they arrived, but this server sent them last "
            "first. Place each item by its .index: row item.index gets item.embedding"
        )
    check_rows(result, expected, SHOWN)


@pytest.mark.points(1)
def test_an_empty_list_raises_value_error(embed, api):
    """An empty list raises ValueError"""
    raises(
        ValueError,
        lambda: embed([], client=api.client, model=api.model),
        shown="embed([])",
        why="there is nothing to embed; check before calling the endpoint",
    )


@pytest.mark.points(1)
def test_a_non_string_raises_type_error_naming_its_position(embed, api):
    """A non-string item raises TypeError naming its position (its index)"""
    cases = (
        (["The cat sat on the mat.", 7, "A feline rested on the rug.", "We deployed the web server at noon."], 1, "an int"),
        ([None, "The cat sat on the mat."], 0, "None"),
    )
    for texts, index, what in cases:
        shown = f"embed({texts!r})"
        err = raises(TypeError, lambda: embed(texts, client=api.client, model=api.model), shown=shown, why="only strings can be embedded")
        expect(
            str(index) in re.findall(r"\d+", str(err)),
            f"{shown} raised TypeError({str(err)!r}); name the position of the wrong item, its index: "
            f"texts[{index}] is {what}",
        )


@pytest.mark.synthetic
@pytest.mark.points(1)
def test_uses_the_configured_client_and_model_by_default(embed, synthetic_api):
    """With no client or model, uses the configured client and EMBED_MODEL (client_and_model)"""
    api = synthetic_api(Synthetic())
    attempt(embed.using_defaults(client=api.client, model=api.model), TEXTS)
    expect_defaults_used(api, SHOWN)


# -- generated inputs (tests/generated.py) ------------------------------------------------------


# -- embed -------------------------------------------------------------------------------------------


@pytest.mark.exercise("embed")
class TestEmbedGenerated:
    @pytest.mark.synthetic
    @pytest.mark.points(1)
    def test_places_each_row_by_its_index_whatever_the_order(self, target, synthetic_api):
        """Items come back in any order: row i is texts[i]; the texts sent as given, the list unchanged"""
        embed = target.function("embed", "embed")
        server = Generated(dims=5)
        api = synthetic_api(server)
        api.call(embed, ["cat one"])
        spaced = st.builds(lambda t, pad: pad + t + pad[::-1], texts_st, st.sampled_from(["", "", " ", "  ", "\n"]))

        @budget(30)
        @given(st.lists(spaced, min_size=1, max_size=9))
        def check(texts):
            shown = f"embed({texts})"
            given = list(texts)
            first = len(api.sent)
            got = api.call(embed, watch(given))
            expect(given == texts, f"{shown} changed the list it was given (to {given!r}); leave it as it was")
            sent = [t for s in api.sent[first:] for t in s.texts]
            expect(sent == texts, f"{shown} sent {sent!r}; send the texts exactly as given (no strip, no change), in one request")
            want = server.vectors(texts)
            expect(isinstance(got, np.ndarray) and got.shape == want.shape, f"{shown} returned {brief(got)}; a numpy array of shape {want.shape}")
            wrong = [i for i in range(len(texts)) if not np.allclose(got[i], want[i], rtol=1e-6, atol=1e-7)]
            expect(
                not wrong,
                f"{shown}: row {wrong[0] if wrong else 0} is not the vector of {texts[wrong[0]] if wrong else ''!r}. The server "
                "sent the items in another order: put each item's vector at row item.index",
            )

        run(check)

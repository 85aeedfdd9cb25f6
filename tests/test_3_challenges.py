"""Exercise 3 — the section's challenges in exercises/challenges.py."""

import itertools
import numbers

import pytest

from embedlab.testing import DOCS, DOG, QUERY, TEN_SENTENCES, a_or_an, attempt, brief, expect, fail
from tests.reference import (
    check_dog_between,
    check_ranking,
    cosine_ref,
    expect_defaults_used,
    expected_verdict,
    rank_references,
    ranking_ref,
)
from tests.synthetic import Synthetic

THREE = ["Rain is expected over the weekend.", "The library opens at nine o'clock.", "Dogs love long walks in the park."]
FORGOT = "confirm_intuition() ranks DOCS + [DOG] for QUERY: did you add the dog sentence to the docs?"


def docs_changed(texts: list[str]) -> str:
    """What to say of a request holding the dog more than once: when it is the query, the section's
    docs and dogs, each call added one more to DOCS itself (api.call's `repeated`)."""
    if QUERY in texts and [t for t in texts if t not in (QUERY, DOG)] == DOCS and texts.count(DOG) > 1:
        return (
            "each call adds the dog to the section's own DOCS list once more (DOCS.append(DOG), or docs = DOCS "
            "then docs.append(DOG), changes DOCS itself); make a new list instead: DOCS + [DOG]"
        )
    return ""


THREE_SHOWN = f"batch_vs_loop({brief(THREE)})"
KEYS = {"batch_requests", "loop_requests", "batch_tokens", "loop_tokens", "cheaper"}


def verdict_sentence(how: str, want: dict) -> str:
    """Why the verdict is what it is, by the rule that decides it here."""
    batch = f"the batch cost {want['batch_tokens']} tokens in {want['batch_requests']} request"
    loop = f"the loop {want['loop_tokens']} tokens in {want['loop_requests']} request" + ("" if want["loop_requests"] == 1 else "s")
    if want["batch_tokens"] != want["loop_tokens"]:
        rule = "fewer tokens is cheaper"
    elif want["batch_requests"] != want["loop_requests"]:
        rule = "with equal tokens, fewer requests is cheaper"
    else:
        rule = "equal tokens in as many requests cost the same"
    return f"{how}: its responses said {batch} and {loop}, and {rule}, so the answer is {want['cheaper']!r}"


@pytest.mark.exercise("confirm_intuition")
class TestConfirmIntuition:
    @pytest.fixture
    def confirm_intuition(self, target):
        return target.function("challenges", "confirm_intuition")

    @pytest.mark.lesson
    @pytest.mark.points(2)
    def test_ranks_the_docs_and_the_dog_for_the_query(self, confirm_intuition, api):
        """Ranks DOCS + [DOG] for "a sleeping cat\""""
        docs = DOCS + [DOG]
        query_vec, doc_vecs = rank_references(api, QUERY, docs)
        result = api.call(confirm_intuition, hint=FORGOT, repeated=docs_changed)
        api.expect_explained([QUERY, *docs], "confirm_intuition()")
        check_ranking(result, QUERY, docs, ranking_ref(query_vec, doc_vecs, docs), "confirm_intuition()")

    @pytest.mark.points(1)
    def test_the_dog_lands_between_the_cats_and_the_server(self, confirm_intuition, api):
        """The dog lands below the cats and above the server"""
        docs = DOCS + [DOG]
        query_vec, doc_vecs = rank_references(api, QUERY, docs)
        expected = ranking_ref(query_vec, doc_vecs, docs)
        check_dog_between(expected, "The recorded model breaks the section's claim (tell your instructor)")
        result = api.call(confirm_intuition, hint=FORGOT, repeated=docs_changed)
        check_ranking(result, QUERY, docs, expected, "confirm_intuition()")
        check_dog_between(result, "confirm_intuition()")

    @pytest.mark.points(1)
    def test_embeds_the_docs_in_one_request(self, confirm_intuition, api):
        """Embeds the five docs in one request (two at most, with the query)"""
        rank_references(api, QUERY, DOCS + [DOG])
        api.call(confirm_intuition, hint=FORGOT, repeated=docs_changed)
        expect(api.sent, "confirm_intuition() sent no request through the `client` it was given: pass client and model on")
        expect(len(api.sent) <= 2, f"confirm_intuition() made {len(api.sent)} requests; rank() needs at most 2")

    @pytest.mark.synthetic
    @pytest.mark.points(1)
    def test_uses_the_configured_client_and_model_by_default(self, confirm_intuition, synthetic_api):
        """With no client or model, uses the configured client and EMBED_MODEL (client_and_model)"""
        api = synthetic_api(Synthetic())
        attempt(confirm_intuition.using_defaults(client=api.client, model=api.model))
        expect_defaults_used(api, "confirm_intuition()")


@pytest.mark.exercise("self_similarity")
class TestSelfSimilarity:
    @pytest.fixture
    def self_similarity(self, target):
        return target.function("challenges", "self_similarity")

    def record(self, api, text: str) -> float:
        """Both ways to embed a text twice; the expected cosine of the two recorded vectors."""
        api.vectors([text])
        twice = api.vectors([text, text])
        return cosine_ref(twice[0], twice[1])

    @pytest.mark.points(1)
    def test_a_sentence_embedded_twice_scores_about_one(self, self_similarity, api):
        """A sentence embedded twice scores about 1.0"""
        text = "The cat sat on the mat."
        want = self.record(api, text)
        result = api.call(self_similarity, text)
        expect(
            isinstance(result, numbers.Real) and not isinstance(result, bool),
            f"self_similarity({text!r}) returned {brief(result)} ({a_or_an(type(result).__name__)}); return the cosine, a float",
        )
        expect(abs(float(result) - want) <= 1e-5, f"self_similarity({text!r}) returned {brief(result)}; the cosine of the two vectors is {want:.6f}")

    @pytest.mark.synthetic
    @pytest.mark.points(1)
    def test_returns_the_cosine_of_the_two_vectors_it_got(self, self_similarity, synthetic_api):
        """Returns the cosine of the two vectors it got, even when they differ a little"""
        api = synthetic_api(Synthetic(noise=0.05))  # a server whose answers wobble from call to call
        text = "The cat sat on the mat."
        shown = f"self_similarity({text!r})"
        result = api.call(self_similarity, text)
        got = api.received(text)
        expect(len(got) >= 2, f"{shown} embedded the text {len(got)} time(s); embed it twice and compare the two vectors")
        expect(
            isinstance(result, numbers.Real) and not isinstance(result, bool),
            f"{shown} returned {brief(result)} ({a_or_an(type(result).__name__)}); return the cosine, a float",
        )
        cosines = [cosine_ref(a, b) for a, b in itertools.combinations(got, 2)]
        expect(
            any(abs(float(result) - c) <= 1e-5 for c in cosines),
            f"{shown} returned {brief(result)}, but on this server the two vectors it got differ a little: their cosine "
            f"is {cosines[0]:.6f}. Compute the cosine of the vectors the endpoint returned, don't assume 1.0",
        )

    @pytest.mark.lesson
    @pytest.mark.points(1)
    def test_really_embeds_the_text_twice(self, self_similarity, api):
        """Really asks the endpoint twice"""
        text = "Embeddings turn text into vectors."
        self.record(api, text)
        result = api.call(self_similarity, text)
        times = sum(sent.texts.count(text) for sent in api.sent)
        if not api.sent:
            fail(
                f"self_similarity({text!r}) returned {brief(result)} without asking the endpoint: "
                "embed the text twice and compare the two vectors"
            )
        expect(
            times >= 2,
            f"self_similarity({text!r}) embedded the text {times} time(s); embed it twice (two requests, "
            "or one holding it twice): comparing one vector with itself proves nothing about the endpoint",
        )

    @pytest.mark.points(1)
    def test_embeds_the_text_it_is_given(self, self_similarity, api):
        """Embeds the text it is given"""
        for text in ("a sleeping cat", "We deployed the web server at noon."):
            self.record(api, text)
            first = len(api.sent)
            api.call(self_similarity, text)
            sent = [t for s in api.sent[first:] for t in s.texts]
            expect(text in sent, f"self_similarity({text!r}) embedded {sent}, not the text it was given")

    @pytest.mark.synthetic
    @pytest.mark.points(1)
    def test_uses_the_configured_client_and_model_by_default(self, self_similarity, synthetic_api):
        """With no client or model, uses the configured client and EMBED_MODEL (client_and_model)"""
        api = synthetic_api(Synthetic())
        attempt(self_similarity.using_defaults(client=api.client, model=api.model), QUERY)
        expect_defaults_used(api, f"self_similarity({QUERY!r})")


@pytest.mark.exercise("batch_vs_loop")
class TestBatchVsLoop:
    @pytest.fixture
    def batch_vs_loop(self, target):
        return target.function("challenges", "batch_vs_loop")

    def record(self, api, texts: list[str]) -> dict:
        """The true costs, from the recorded responses' usage."""
        batch = api.reference(texts).prompt_tokens
        loop = sum(api.reference([text]).prompt_tokens for text in texts)
        return {
            "batch_requests": 1,
            "loop_requests": len(texts),
            "batch_tokens": batch,
            "loop_tokens": loop,
            "cheaper": expected_verdict(batch, loop, 1, len(texts)),
        }

    def run(self, batch_vs_loop, api, texts: list[str], shown: str) -> dict:
        result = api.call(batch_vs_loop, texts)
        expect(isinstance(result, dict), f"{shown} returned {a_or_an(type(result).__name__)}; return a dict with the keys {sorted(KEYS)}")
        missing = KEYS - set(result)
        expect(not missing, f"{shown} returned a dict without {sorted(missing)}")
        for key in KEYS - {"cheaper"}:
            value = result[key]
            expect(
                isinstance(value, int) and not isinstance(value, bool),
                f"{shown}[{key!r}] is {value!r}; it should be a whole number (int)",
            )
        expect(result["cheaper"] in ("batch", "loop", "same"), f"{shown}['cheaper'] is {result['cheaper']!r}; say 'batch', 'loop' or 'same'")
        return result

    def received(self, api, texts: list[str], first: int, shown: str) -> dict:
        """The costs the learner's own requests were told (their responses' usage)."""
        sent = api.sent[first:]
        expect(sent, f"{shown} reported costs without sending a request through the `client` it was given")
        batches = [s for s in sent if s.texts == list(texts)]
        expect(batches, f"{shown} never sent the texts together in one request: the batch is one request")
        batch = batches[0]
        loop = [s for s in sent if len(s.texts) == 1 and s is not batch]
        tokens = [s.prompt_tokens or 0 for s in loop]
        return {
            "batch_requests": 1,
            "loop_requests": len(loop),
            "batch_tokens": batch.prompt_tokens or 0,
            "loop_tokens": sum(tokens),
            "cheaper": expected_verdict(batch.prompt_tokens or 0, sum(tokens), 1, len(loop)),
        }

    @pytest.mark.lesson
    @pytest.mark.points(1)
    def test_makes_one_batch_request_and_one_per_text(self, batch_vs_loop, api):
        """Makes one batch request, then one request per text"""
        self.record(api, TEN_SENTENCES)
        shown = "batch_vs_loop(TEN_SENTENCES)"
        result = self.run(batch_vs_loop, api, TEN_SENTENCES, shown)
        batches = [s for s in api.sent if s.texts == TEN_SENTENCES]
        singles = [s for s in api.sent if len(s.texts) == 1]
        expect(api.sent, f"{shown} reported costs without sending a request through the `client` it was given")
        expect(len(batches) == 1, f"{shown} sent {len(batches)} requests holding all ten texts; the batch is one request")
        expect(
            sorted(t for s in singles for t in s.texts) == sorted(TEN_SENTENCES) and len(api.sent) == 11,
            f"{shown} made {len(api.sent)} requests; expected 11: one batch, then one for each of the ten texts",
        )
        expect(
            (result["batch_requests"], result["loop_requests"]) == (1, 10),
            f"{shown} reported {result['batch_requests']} batch and {result['loop_requests']} loop requests; "
            "it made 1 and 10: count the requests you actually make",
        )

    @pytest.mark.synthetic
    @pytest.mark.points(2)
    def test_tokens_come_from_usage(self, batch_vs_loop, synthetic_api):
        """Counts tokens from each response's usage (here each request also costs 5 tokens of overhead)"""
        api = synthetic_api(Synthetic(overhead=5))
        shown = "batch_vs_loop(TEN_SENTENCES)"
        result = self.run(batch_vs_loop, api, TEN_SENTENCES, shown)
        want = self.received(api, TEN_SENTENCES, 0, shown)
        for key, where in (("batch_tokens", "the batch's response"), ("loop_tokens", "the loop's ten responses, added up")):
            expect(
                result[key] == want[key],
                f"{shown}[{key!r}] is {result[key]}, but usage.prompt_tokens of {where} say {want[key]}. "
                "Read each response's usage; this server counts 5 extra tokens for every request",
            )

    @pytest.mark.synthetic
    @pytest.mark.points(2)
    def test_the_verdict_follows_the_numbers(self, batch_vs_loop, synthetic_api):
        """The verdict follows the tokens, then the requests: batch, loop or the same"""
        cases = (
            (Synthetic(overhead=5), TEN_SENTENCES, "On this server each request costs 5 tokens more"),
            (Synthetic(pad_batches=True), THREE + ["Hi."], "On this server a batch pads every text to its longest"),
            (Synthetic(), THREE[:1], "With one text the batch and the loop are the same single request"),
        )
        for server, texts, how in cases:
            api = synthetic_api(server)
            shown = f"batch_vs_loop({texts if len(texts) < 3 else 'TEN_SENTENCES' if texts == TEN_SENTENCES else '4 texts'})"
            result = self.run(batch_vs_loop, api, texts, shown)
            want = self.received(api, texts, 0, shown)
            expect(result["cheaper"] == want["cheaper"], f"{shown} says {result['cheaper']!r} is cheaper. {verdict_sentence(how, want)}")

    @pytest.mark.synthetic
    @pytest.mark.points(1)
    def test_uses_the_configured_client_and_model_by_default(self, batch_vs_loop, synthetic_api):
        """With no client or model, uses the configured client and EMBED_MODEL (client_and_model)"""
        api = synthetic_api(Synthetic())
        attempt(batch_vs_loop.using_defaults(client=api.client, model=api.model), THREE)
        expect_defaults_used(api, THREE_SHOWN)

    @pytest.mark.points(1)
    def test_works_for_any_list_of_texts(self, batch_vs_loop, api):
        """Works for any list of texts, not just ten"""
        want = self.record(api, THREE)
        result = self.run(batch_vs_loop, api, THREE, THREE_SHOWN)
        got = {key: result[key] for key in want}
        expect(got == want, f"{THREE_SHOWN} returned {got}; for these three texts expected {want}")

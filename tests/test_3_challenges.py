"""Exercise 3 — the section's challenges in exercises/challenges.py."""

import numbers

import pytest

from embedlab.outcomes import expect, fail
from embedlab.section import DOCS, DOG, QUERY, TEN_SENTENCES
from tests.reference import (
    check_dog_between,
    check_ranking,
    cosine_ref,
    expected_verdict,
    rank_references,
    ranking_ref,
)

THREE = ["Rain is expected over the weekend.", "The library opens at nine o'clock.", "Dogs love long walks in the park."]
FORGOT = "confirm_intuition() ranks DOCS + [DOG] for QUERY: did you add the dog sentence to the docs?"
KEYS = {"batch_requests", "loop_requests", "batch_tokens", "loop_tokens", "cheaper"}


@pytest.mark.exercise("confirm_intuition", "challenges")
class TestConfirmIntuition:
    @pytest.fixture
    def confirm_intuition(self, target):
        return target.function("challenges", "confirm_intuition")

    @pytest.mark.points(2)
    def test_ranks_the_docs_and_the_dog_for_the_query(self, confirm_intuition, api):
        """Ranks DOCS + [DOG] for "a sleeping cat\""""
        docs = DOCS + [DOG]
        query_vec, doc_vecs = rank_references(api, QUERY, docs)
        result = api.call(confirm_intuition, hint=FORGOT)
        check_ranking(result, QUERY, docs, ranking_ref(query_vec, doc_vecs, docs), "confirm_intuition()")

    @pytest.mark.points(2)
    def test_the_dog_lands_between_the_cats_and_the_server(self, confirm_intuition, api):
        """The dog lands below the cats and above the server"""
        docs = DOCS + [DOG]
        query_vec, doc_vecs = rank_references(api, QUERY, docs)
        expected = ranking_ref(query_vec, doc_vecs, docs)
        check_dog_between(expected, "The recorded model breaks the section's claim (tell your instructor)")
        result = api.call(confirm_intuition, hint=FORGOT)
        check_ranking(result, QUERY, docs, expected, "confirm_intuition()")
        check_dog_between(result, "confirm_intuition()")

    @pytest.mark.points(1)
    def test_embeds_the_docs_in_one_request(self, confirm_intuition, api):
        """Embeds the five docs in one request (two at most, with the query)"""
        rank_references(api, QUERY, DOCS + [DOG])
        api.call(confirm_intuition, hint=FORGOT)
        expect(api.sent, "confirm_intuition() sent no request through the `client` it was given: pass client and model on")
        expect(len(api.sent) <= 2, f"confirm_intuition() made {len(api.sent)} requests; rank() needs at most 2")


@pytest.mark.exercise("self_similarity", "challenges")
class TestSelfSimilarity:
    @pytest.fixture
    def self_similarity(self, target):
        return target.function("challenges", "self_similarity")

    def record(self, api, text: str) -> float:
        """Both ways to embed a text twice; the expected cosine of the two recorded vectors."""
        api.vectors([text])
        twice = api.vectors([text, text])
        return cosine_ref(twice[0], twice[1])

    @pytest.mark.points(2)
    def test_a_sentence_embedded_twice_scores_about_one(self, self_similarity, api):
        """A sentence embedded twice scores about 1.0"""
        text = "The cat sat on the mat."
        want = self.record(api, text)
        result = api.call(self_similarity, text)
        expect(
            isinstance(result, numbers.Real) and not isinstance(result, bool),
            f"self_similarity({text!r}) returned {result!r} (a {type(result).__name__}); return the cosine, a float",
        )
        expect(abs(float(result) - want) <= 1e-5, f"self_similarity({text!r}) returned {result!r}; the cosine of the two vectors is {want:.6f}")

    @pytest.mark.points(2)
    def test_really_embeds_the_text_twice(self, self_similarity, api):
        """Really asks the endpoint twice"""
        text = "Embeddings turn text into vectors."
        self.record(api, text)
        result = api.call(self_similarity, text)
        times = sum(sent.texts.count(text) for sent in api.sent)
        if not api.sent:
            fail(
                f"self_similarity({text!r}) returned {result!r} without asking the endpoint: "
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


@pytest.mark.exercise("batch_vs_loop", "challenges")
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
        expect(isinstance(result, dict), f"{shown} returned a {type(result).__name__}; return a dict with the keys {sorted(KEYS)}")
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

    @pytest.mark.points(2)
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

    @pytest.mark.points(2)
    def test_tokens_come_from_usage(self, batch_vs_loop, api):
        """Counts tokens from each response's usage"""
        want = self.record(api, TEN_SENTENCES)
        shown = "batch_vs_loop(TEN_SENTENCES)"
        result = self.run(batch_vs_loop, api, TEN_SENTENCES, shown)
        for key in ("batch_tokens", "loop_tokens"):
            expect(
                result[key] == want[key],
                f"{shown}[{key!r}] is {result[key]}, but the endpoint's usage.prompt_tokens say {want[key]}"
                + (": add up the loop's responses" if key == "loop_tokens" else ""),
            )

    @pytest.mark.points(2)
    def test_the_verdict_follows_the_numbers(self, batch_vs_loop, api):
        """The verdict follows the numbers (one text costs the same either way)"""
        for texts, shown in ((TEN_SENTENCES, "batch_vs_loop(TEN_SENTENCES)"), (THREE[:1], f"batch_vs_loop({THREE[:1]})")):
            want = self.record(api, texts)
            first = len(api.sent)
            result = self.run(batch_vs_loop, api, texts, shown)
            del api.sent[first:]
            expect(
                result["cheaper"] == want["cheaper"],
                f"{shown} says {result['cheaper']!r} is cheaper; with {want['batch_tokens']} vs "
                f"{want['loop_tokens']} tokens and {want['batch_requests']} vs {want['loop_requests']} "
                f"requests it is {want['cheaper']!r}. Tokens decide; with equal tokens, fewer requests wins",
            )

    @pytest.mark.points(1)
    def test_works_for_any_list_of_texts(self, batch_vs_loop, api):
        """Works for any list of texts, not just ten"""
        want = self.record(api, THREE)
        result = self.run(batch_vs_loop, api, THREE, "batch_vs_loop(THREE)")
        got = {key: result[key] for key in want}
        expect(got == want, f"batch_vs_loop(THREE) returned {got}; for these three texts expected {want}")

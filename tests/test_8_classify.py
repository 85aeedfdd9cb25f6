"""Exercise 4 — beyond the section, in exercises/applications.py: classify(), the nearest labelled example's label.

The texts these tests embed are in tests/applications.py, where you can read them: recorded from a
real server (cassettes/), each claim the tests make about them checked on the recorded vectors first.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import (  # noqa: F401 - the generated-input checks below
    assume,
    given,
    strategies as st,  # noqa: F401
)

from embedlab.testing import a_or_an, attempt, brief, expect, fail, watch
from tests.applications import (  # the corpus and helpers the applications' tests share
    CASES,
    CLASSIFY_HINT,
    MARGIN,
    TICKET,
    TICKET_EXAMPLES,
    exact_vectors,
    unit_rows,
)
from tests.generated import (
    Generated,
    budget,
    cosine_exact,
    exactly_tied,
    examples_st,
    run,
    texts_st,
)
from tests.reference import cosine_ref, expect_defaults_used, raises
from tests.synthetic import Synthetic

# -- classify --------------------------------------------------------------------------------------


def flat(examples: dict) -> tuple[list[str], list[str]]:
    labels = [label for label, texts in examples.items() for _ in texts]
    return labels, [t for texts in examples.values() for t in texts]


def record_classify(api, text: str, examples: dict) -> tuple[np.ndarray, np.ndarray]:
    """The vectors of the text and the examples, from one request (text first or last)."""
    _, texts = flat(examples)
    both = api.vectors([text, *texts])
    api.vectors([*texts, text])
    api.vectors(texts)
    api.vectors([text])
    return both[0], both[1:]


def wrong_ways(text: str, examples: dict, query, rows) -> dict[str, str]:
    """What the usual wrong answers would say, each with the sentence naming it."""
    labels, texts = flat(examples)
    unit = unit_rows(rows)
    q = query / np.linalg.norm(query)
    scores = unit @ q
    order = np.argsort(-scores, kind="stable")
    three = [labels[i] for i in order[:3]]
    centroid = {label: cosine_ref(q, unit[[i for i, lab in enumerate(labels) if lab == label]].mean(axis=0)) for label in examples}
    words = lambda s: set(re.findall(r"[a-z']+", s.lower()))  # noqa: E731
    overlap = {label: max(len(words(text) & words(t)) for t in ts) for label, ts in examples.items()}
    return {
        "most examples": max(examples, key=lambda label: len(examples[label])),
        "three nearest": max(dict.fromkeys(three), key=three.count),
        "centroid": max(centroid, key=centroid.get),
        "keywords": max(overlap, key=overlap.get),
    }


WRONG_SENTENCES = {
    "most examples": "the label with the most examples",
    "three nearest": "the most common label among the three nearest examples (a majority vote)",
    "centroid": "the label whose examples are closest on average (their centroid)",
    "keywords": "the label whose example shares the most words with the text",
}


@pytest.mark.exercise("classify")
class TestClassify:
    @pytest.fixture
    def classify(self, target):
        return target.function("applications", "classify")

    @pytest.mark.lesson
    @pytest.mark.points(3)
    def test_the_nearest_example_wins(self, classify, api):
        """The label of the single nearest example wins: not a majority, not a centroid, not shared words"""
        for text, examples, label in CASES:
            query, rows = record_classify(api, text, examples)
            labels, texts = flat(examples)
            scores = [cosine_ref(query, row) for row in rows]
            best = int(np.argmax(scores))
            runner_up = max(s for s, lab in zip(scores, labels) if lab != labels[best])
            expect(
                labels[best] == label and scores[best] - runner_up >= MARGIN,
                f"The recorded model does not put a {label!r} example nearest {text!r} by {MARGIN}: this cassette "
                "set cannot grade classify — tell your instructor",
            )
            given = {k: list(v) for k, v in examples.items()}
            shown = f"classify({text!r}, examples)"
            result = api.call(classify, text, watch(given), hint=CLASSIFY_HINT)
            expect(given == examples, f"{shown} changed the examples it was given; leave them as they were")
            api.expect_explained([text, texts[best]], shown)
            if result != label:
                wrong = [why for why, answer in wrong_ways(text, examples, query, rows).items() if answer == result]
                if wrong:  # the ways may agree on this corpus: name every one that gives this answer
                    fail(
                        f"{shown} returned {brief(result)}: that is {', and also '.join(WRONG_SENTENCES[w] for w in wrong)}. "
                        f"The nearest single example is {texts[best]!r} ({scores[best]:.3f}), labelled {label!r}: return its label"
                    )
                fail(f"{shown} returned {brief(result)}; the nearest example is {texts[best]!r} ({scores[best]:.3f}), labelled {label!r}")

    @pytest.mark.points(1)
    def test_the_text_and_examples_in_one_request(self, classify, api):
        """Embeds the text and all the examples in one request"""
        record_classify(api, TICKET, TICKET_EXAMPLES)
        api.call(classify, TICKET, TICKET_EXAMPLES, hint=CLASSIFY_HINT)
        expect(api.sent, "classify() sent no request through the `client` it was given")
        expect(
            len(api.sent) == 1,
            f"classify(TICKET, examples) made {len(api.sent)} requests; embed the text and all the examples in one request",
        )

    @pytest.mark.points(1)
    def test_no_examples_raise_value_error(self, classify, api):
        """No examples, or a label without any, raise ValueError"""
        for examples, why in (({}, "there is no label to choose"), ({"bugs": ["The export button does nothing."], "features": []}, "a label with no example can never be nearest")):
            raises(
                ValueError,
                lambda: classify(TICKET, examples, client=api.client, model=api.model),
                shown=f"classify(TICKET, {examples})",
                why=why,
            )

    @pytest.mark.synthetic
    @pytest.mark.points(1)
    def test_equal_scores_go_to_the_label_listed_first(self, classify, synthetic_api):
        """Equal scores: the label listed first wins"""
        axes = {"query": 0, "alpha": 0, "beta": 0, "gamma": 1}
        api = synthetic_api(exact_vectors(lambda text: axes[text.split()[0]]))
        examples = {"second": ["gamma ray"], "zeta": ["beta one"], "first": ["alpha one"]}
        result = api.call(classify, "query text", examples)
        expect(
            result == "zeta",
            f"classify('query text', {examples}) returned {brief(result)}; 'beta one' and 'alpha one' both score 1.0, "
            "and equal scores go to the label listed first: 'zeta' (keep the first best, compare with >)",
        )

    @pytest.mark.synthetic
    @pytest.mark.points(1)
    def test_uses_the_configured_client_and_model_by_default(self, classify, synthetic_api):
        """With no client or model, uses the configured client and EMBED_MODEL (client_and_model)"""
        api = synthetic_api(Synthetic())
        attempt(classify.using_defaults(client=api.client, model=api.model), TICKET, TICKET_EXAMPLES)
        expect_defaults_used(api, "classify(TICKET, examples)")


# -- classify ----------------------------------------------------------------------------------------


@pytest.mark.exercise("classify")
class TestClassifyGenerated:
    @pytest.mark.synthetic
    @pytest.mark.points(1)
    def test_the_nearest_example_wins_on_generated_examples(self, target, synthetic_api):
        """One text under two labels, ties to the label listed first, vectors not of length 1"""
        classify = target.function("applications", "classify")
        server = Generated()
        api = synthetic_api(server)
        api.call(classify, "cat one", {"a": ["cat two"]})

        @budget(40)
        @given(texts_st, examples_st())
        def check(text, examples):
            q = server.array(text)
            scored = [(cosine_exact(q, server.array(e)), label, e) for label, texts in examples.items() for e in texts]
            best = max(s for s, _, _ in scored)
            near = [(label, e) for s, label, e in scored if s >= best - 1e-9]
            best_label = near[0][0]  # the first listed of the best
            allowed = {best_label} if exactly_tied(*(e for _, e in near)) else {label for label, _ in near}
            shown = f"classify({text!r}, {examples})"
            got = api.call(classify, text, {k: list(v) for k, v in examples.items()})
            expect(type(got) is str or got not in allowed, f"{shown} returned {brief(got)}, {a_or_an(type(got).__name__)}; return the label itself, a plain str: str(label)")
            if got not in allowed:
                rows = np.array([server.array(e) for texts in examples.values() for e in texts])
                wrong = [WRONG_SENTENCES[w] for w, answer in wrong_ways(text, examples, q, rows).items() if answer == got]
                named = f": that is what {', and also '.join(wrong)} gives" if wrong else ""
                fail(
                    f"{shown} returned {brief(got)}{named}; the single nearest example by cosine (not by dot product: these "
                    f"vectors are not of length 1) scores {best:.6f} and is labelled {best_label!r}; equal scores go to the label listed first"
                )

        run(check)

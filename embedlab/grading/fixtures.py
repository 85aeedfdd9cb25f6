"""The fixtures a grading test asks for: the learner's code (`target`), the endpoint that answers
its client (`api`: the cassettes, or the live endpoint for live tests) and `synthetic_api` for
answers no real server gives. Each is registered by the plugin."""

from __future__ import annotations

import pytest

from embedlab.grading import cassettes
from embedlab.grading.session import REPLAY_KEY, grading_of as _grading
from embedlab.handle.learner import Learner


@pytest.fixture(scope="session")
def target(pytestconfig: pytest.Config) -> Learner:
    """The learner's code under grading (exercises/, solutions/ or --exercises-dir), in its worker."""
    return _grading(pytestconfig).learner


@pytest.fixture
def api(request: pytest.FixtureRequest):
    """The embeddings endpoint for this test: the cassettes, or the live endpoint for `live` tests."""
    from embedlab.grading.endpoint import Endpoint

    grading = _grading(request.config)
    if request.node.get_closest_marker("live"):
        live = grading.live()
        endpoint = Endpoint(live.base_url, live.api_key, live.model)
        yield endpoint
        endpoint.close()
        return
    base_url, key = grading.endpoint_settings()
    path = grading.cassette_path(request.node)
    with grading.vcr.use_cassette(path.name, allow_playback_repeats=True) as cassette:
        is_recorded = None if grading.recording else grading.known_inputs(path, cassette).__contains__
        references = grading.references.setdefault(path, {})
        transport = None if grading.recording else cassettes.replay_transport()
        endpoint = Endpoint(base_url, key, grading.model, is_recorded=is_recorded, references=references, transport=transport)
        yield endpoint
        endpoint.close()
        grading.recorded_anything |= cassette.dirty


@pytest.fixture
def synthetic_api():
    """Make an endpoint answered by a handler in the test, for responses no real server gives.

    `synthetic_api(handler)`: handler(httpx2.Request) -> httpx2.Response; its `model` attribute, if
    it has one, is the model the test passes. Never recorded.
    """
    import httpx2

    from embedlab.grading.endpoint import Endpoint

    made = []

    def make(handler) -> Endpoint:
        model = getattr(handler, "model", "synthetic-model")
        endpoint = Endpoint(f"https://{cassettes.PLACEHOLDER_HOST}/v1", REPLAY_KEY, model, transport=httpx2.MockTransport(handler))
        made.append(endpoint)
        return endpoint

    yield make
    for endpoint in made:
        endpoint.close()

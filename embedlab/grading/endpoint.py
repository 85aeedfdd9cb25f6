"""The embeddings endpoint as a grading test sees it (the `api` fixture).

One hop of the request path each: the test calls the learner's function through `call()`,
passing `client` and `model`. In the worker that runs the learner's code, `client` is a real
`openai.OpenAI` whose transport sends each request back here, to `forward()`, which logs it in
`sent` and answers it from the cassette (offline) or a real server (live). `reference()` asks the
same endpoint for vectors with a separate, unlogged client, so expected values come from the
recorded responses, never from numbers written into a test.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from embedlab import wire
from embedlab.grading.cassettes import Inputs, shared_tls
from embedlab.grading.outcomes import NotStarted, brief, fail, fail_raised
from embedlab.handle.values import ClientHandle, LearnerRaised, Watched

FORWARDED_HEADERS = frozenset({"content-type", "accept"})
ANSWER_HEADERS = frozenset({"content-type", "x-request-id"})

Repeated = str | Callable[[list[str]], str]  # what a test says of a text sent twice (Endpoint.explain_unrecorded)

RECORD_HINT = "If your code is right, the recordings lack this request: tell your instructor. (Instructors: record it with `embedlab record`.)"


@dataclass
class Sent:
    """One request the learner's code made through the client it was given."""

    inputs: Inputs | None
    body: dict[str, Any]
    recorded: bool = True  # False: replay had no recording for it
    prompt_tokens: int | None = None
    status: int | None = None
    vectors: dict[int, np.ndarray] = field(default_factory=dict)  # what the answer held, by index

    @property
    def texts(self) -> list[Any]:
        return list(self.inputs.texts) if self.inputs else []


@dataclass
class Recorded:
    """What the endpoint answered for a list of texts: vectors (rows by index) and token usage."""

    vectors: np.ndarray
    prompt_tokens: int


@dataclass
class Endpoint:
    base_url: str
    api_key: str
    model: str
    is_recorded: Callable[[Inputs], bool] | None = None  # None: live, everything is real
    timeout: float = 30.0
    transport: Any = None  # an httpx2 transport: the replay encoder, or a synthetic test's fake server
    references: dict[Inputs, Recorded] = field(default_factory=dict)  # shared by one cassette's tests
    sent: list[Sent] = field(default_factory=list)

    def __post_init__(self) -> None:
        import httpx2

        #: What a test passes as `client`: a real openai client in the worker, forwarding to here.
        self.client = ClientHandle(self, self.base_url, self.timeout)
        hooks = {"request": [self._on_request], "response": [self._on_response]}
        self._learners_http = httpx2.Client(
            headers={"Authorization": f"Bearer {self.api_key}"},
            timeout=self.timeout,
            transport=self.transport,
            verify=shared_tls(),
            event_hooks=hooks,
        )
        # The grader's own requests: plain JSON, no parsing into models, not logged.
        self._http = httpx2.Client(
            base_url=self.base_url.rstrip("/") + "/",
            headers={"Authorization": f"Bearer {self.api_key}"},
            timeout=self.timeout,
            transport=self.transport,
            verify=shared_tls(),
        )

    # -- the request log -------------------------------------------------------------------------

    def _on_request(self, request) -> None:
        try:
            body = json.loads(request.content or b"{}")
        except ValueError:
            body = {}
        inputs = Inputs.from_body(body)
        recorded = self.is_recorded(inputs) if (self.is_recorded and inputs) else True
        self.sent.append(Sent(inputs=inputs, body=body if isinstance(body, dict) else {}, recorded=recorded))

    def _on_response(self, response) -> None:
        sent = self.sent[-1]
        sent.status = response.status_code
        response.read()
        try:
            payload = response.json()
            sent.prompt_tokens = int(payload["usage"]["prompt_tokens"])
            for item in payload["data"]:
                vector = item["embedding"]
                if isinstance(vector, str):
                    vector = np.frombuffer(base64.b64decode(vector), dtype="<f4")
                sent.vectors[int(item["index"])] = np.asarray(vector, dtype=np.float64)
        except (ValueError, KeyError, TypeError):
            pass

    def received(self, text: str) -> list[np.ndarray]:
        """The vectors the learner's requests got back for `text`, in the order they came."""
        return [s.vectors[i] for s in self.sent for i, t in enumerate(s.texts) if t == text and i in s.vectors]

    def expect_explained(self, texts: list[str], shown: str) -> None:
        """A point needs an answer that came through the client: every text it depends on was
        embedded by the learner's own requests (an answer copied from anywhere else was not)."""
        if not self.sent:
            fail(f"{shown} made no request through the `client` it was given: its answer cannot come from the endpoint")
        missing = [t for t in dict.fromkeys(texts) if not self.received(t)]
        if missing:
            fail(f"{shown} never embedded {brief(missing[0])} through the `client` it was given, yet its answer depends on it")

    def close(self) -> None:
        self._learners_http.close()
        self._http.close()

    def forward(self, frame: dict) -> dict:
        """Answer one HTTP request the learner's client made in the worker (the worker's `Forwarding` transport sent it).

        Only the embeddings and models endpoints are served, always at this endpoint's own base
        URL with its own key: the learner's code chooses what to ask, never where it goes.
        """
        import httpx2

        path = urlsplit(str(frame.get("url", ""))).path.rstrip("/")
        method = str(frame.get("method", "")).upper()
        last = path.rsplit("/", 1)[-1]
        if (method, last) not in (("POST", "embeddings"), ("GET", "models")):
            return _error_answer(404, f"the grader forwards only POST /embeddings and GET /models, not {method} {path}")
        headers = [(str(k), str(v)) for k, v in frame.get("headers", []) if str(k).lower() in FORWARDED_HEADERS]
        try:
            body = base64.b64decode(str(frame.get("body", "")), validate=True)
        except ValueError:
            return _error_answer(400, "the request body could not be read")
        refused = self.refused(body) if (self.is_recorded is not None and last == "embeddings") else None
        if refused:  # what any embeddings endpoint answers, so replay answers it too
            payload = _json_or_none(body)
            self.sent.append(Sent(inputs=Inputs.from_body(payload), body=payload if isinstance(payload, dict) else {}, status=400))
            return _error_answer(400, refused)
        request = self._learners_http.build_request(method, self.base_url.rstrip("/") + "/" + last, headers=headers, content=body)
        try:
            response = self._learners_http.send(request)
        except httpx2.TimeoutException:
            return {"error": "timeout", "message": "the endpoint did not answer in time"}
        except Exception as err:  # noqa: BLE001 - vcrpy's "no recording", a refused connection, …
            if type(err).__name__ == "CannotOverwriteExistingCassetteException":
                if self.sent:
                    self.sent[-1].recorded = False
                return {"error": "connect", "message": wire.NO_RECORDING}
            return {"error": "connect", "message": f"could not reach the endpoint ({type(err).__name__})"}
        return {
            "status": response.status_code,
            "headers": [[k, v] for k, v in response.headers.items() if k.lower() in ANSWER_HEADERS],
            "body": base64.b64encode(response.content).decode("ascii"),
        }

    @staticmethod
    def refused(body: bytes) -> str | None:
        """Why an embeddings endpoint refuses this body's `input` (400), judged before any
        recording is looked up: an empty list, or an item that is neither text nor token ids."""
        payload = _json_or_none(body)
        texts = payload.get("input") if isinstance(payload, dict) else None
        if not isinstance(texts, list):
            return None
        if not texts:
            return "'input' is an empty list: there is nothing to embed"
        if all(isinstance(t, int) and not isinstance(t, bool) for t in texts) or all(isinstance(t, list) for t in texts):
            return None  # token ids
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                kind = (
                    "null"
                    if text is None
                    else {"bool": "a boolean", "int": "a number", "float": "a number"}.get(type(text).__name__, f"a {type(text).__name__}")
                )
                return f"input[{i}] is {kind} ({brief(text, 30)}), not a string"
        return None

    # -- what tests use --------------------------------------------------------------------------

    def reference(self, texts: list[str]) -> Recorded:
        """The endpoint's own answer for `texts`, sent as one list, rows placed by index."""
        key = Inputs(self.model, tuple(texts))
        if key not in self.references:
            try:
                response = self._http.post("embeddings", json={"model": self.model, "input": list(texts), "encoding_format": "float"})
            except Exception as err:
                if type(err).__name__ == "CannotOverwriteExistingCassetteException":
                    fail(f"The cassettes lack the grader's own request ({key.describe()}): this set is incomplete. {RECORD_HINT}")
                raise
            if response.status_code != 200:
                raise RuntimeError(f"the endpoint answered {response.status_code} to the grader's own request: {response.text[:200]}")
            payload = response.json()
            rows = sorted(payload["data"], key=lambda item: item["index"])
            self.references[key] = Recorded(
                vectors=np.array([row["embedding"] for row in rows], dtype=np.float64),
                prompt_tokens=int(payload["usage"]["prompt_tokens"]),
            )
        return self.references[key]

    def vectors(self, texts: list[str]) -> np.ndarray:
        return self.reference(texts).vectors

    def call(self, function: Callable, *args: Any, hint: str = "", repeated: Repeated = "", **kwargs: Any) -> Any:
        """Call the learner's `function` with this endpoint's client and model.

        Its errors become one readable sentence: not started (a stub), a request with no recording
        (what was sent, why it may be wrong, and the test's `hint`; `repeated`: what to say when the
        request holds a text twice), or the exception and the learner's line.
        """
        first = len(self.sent)
        shown = f"{function.__name__}({', '.join(brief(a.value if isinstance(a, Watched) else a) for a in args)})"
        given = _texts_in(args)
        try:
            return function(*args, client=self.client, model=self.model, **kwargs)
        except NotImplementedError as err:
            raise NotStarted(str(err) or f"{function.__name__}() is not written yet.") from None
        except Exception as err:  # noqa: BLE001 - whatever the learner raised becomes one sentence
            unrecorded = [s for s in self.sent[first:] if not s.recorded]
            if unrecorded:
                fail(self.explain_unrecorded(shown, unrecorded[0], hint, given, repeated))
            other = next((s for s in self.sent[first:] if s.inputs and s.inputs.model != self.model), None)
            if other is not None:
                fail(self.explain_unrecorded(shown, other, hint, given, repeated))
            types = err.details.get("types", []) if isinstance(err, LearnerRaised) else []
            if "APIStatusError" in types:
                status = err.details.get("status_code", "an error")
                fail(f"{shown}: the endpoint answered {status}: {err.details.get('api_message') or err}", raised=types[0])
            if "APIConnectionError" in types and not self.sent[first:]:
                fail(f"{shown} raised {types[0]}: it made no request through the `client` it was given. Use that client.", raised=types[0])
            fail_raised(shown, err)

    def explain_unrecorded(self, shown: str, sent: Sent, hint: str = "", given: list[str] | None = None, repeated: Repeated = "") -> str:
        """Why the grader cannot answer a request: another model, texts the function was not given
        (said against what it was given), a text sent more often than it was given (`repeated`: the
        test's words for why, or a function of the texts sent that gives them or ""), or a gap in
        the recordings. Only the last is the kit's."""
        inputs = sent.inputs
        strange = [t for t in inputs.texts if t not in given] if (inputs is not None and given) else []
        if inputs is not None and inputs.model == self.model and strange:
            return _other_texts(shown, list(inputs.texts), strange[0], given or [], hint)
        texts = [t for t in inputs.texts if isinstance(t, str)] if inputs is not None else []
        twice = next((t for t in dict.fromkeys(texts) if texts.count(t) > max(1, (given or []).count(t))), None)
        why = (repeated(texts) if callable(repeated) else repeated) if twice is not None else ""
        if not why and given and twice is not None:
            why = f"it was given that text {'once' if given.count(twice) < 2 else f'{given.count(twice)} times'}, so send it as often"
        if inputs is not None and inputs.model == self.model and why:
            times = "twice" if texts.count(twice) == 2 else f"{texts.count(twice)} times"
            return f"{shown} sent {brief(twice)} {times} in one request: {why}"
        if inputs is not None and inputs.model != self.model:
            why = f"it asked for model {inputs.model!r}, but the test passed model={self.model!r}: use the `model` argument rather than a fixed name."
        else:
            described = inputs.describe() if inputs else json.dumps(sent.body)[:120]
            why = f"no recorded request matches what it sent: {described}." + (f" {hint}" if hint else "")
        return f"{shown} sent a request the grader cannot answer — {why}\n{RECORD_HINT}"


def _texts_in(args: tuple | list, depth: int = 3) -> list[str]:
    """The texts a test passed: string arguments and the strings inside list, tuple and dict
    arguments (a dict's keys and values: classify's examples are a dict of lists)."""
    texts: list[str] = []
    for arg in args:
        value = arg.value if isinstance(arg, Watched) else arg
        if isinstance(value, str):
            texts.append(value)
        elif depth and isinstance(value, dict):
            texts.extend(_texts_in([*value.keys(), *value.values()], depth - 1))
        elif depth and isinstance(value, (list, tuple)):
            texts.extend(_texts_in(value, depth - 1))
    return texts


def _other_texts(shown: str, texts: list, sent: object, given: list[str], hint: str = "") -> str:
    """The learner's code sent a text it was not given (`sent`, one of the request's `texts`): say
    what it sent against what it got, then the test's `hint`."""
    return _other_texts_said(shown, texts, sent, given) + (f" {hint}" if hint else "")


def _other_texts_said(shown: str, texts: list, sent: object, given: list[str]) -> str:
    import difflib

    split = next((g for g in given if len(g) > 1 and texts == list(g)), None)
    if split is not None:
        return f"{shown} sent the {len(split)} characters of {brief(split)} as {len(split)} texts, one each."
    if isinstance(sent, str):
        joined = [t for t in dict.fromkeys(given) if t in sent]
        if len(joined) > 1:
            return (
                f"{shown} sent {brief(sent)} as one text: it joined {len(joined)} of the texts it was given "
                "into one string. Send them as a list, one item per text: input=texts"
            )
        close = difflib.get_close_matches(sent, list(dict.fromkeys(given)), n=1, cutoff=0.6)
        if close:
            return (
                f"{shown} sent {brief(sent)}, but the text it was given is {brief(close[0])}: send each text "
                "exactly as it was given (no lower-casing, stripping or adding)"
            )
    return f"{shown} sent {brief(sent)}, which is not one of the texts it was given ({brief(given)}): embed the texts it is given"


def _json_or_none(body: bytes):
    try:
        return json.loads(body or b"null")
    except (ValueError, RecursionError):
        return None


def _error_answer(status: int, message: str) -> dict:
    body = {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": None}}
    return {"status": status, "headers": [["content-type", "application/json"]], "body": base64.b64encode(json.dumps(body).encode()).decode("ascii")}

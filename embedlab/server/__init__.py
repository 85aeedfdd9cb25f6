"""The local OpenAI-compatible embeddings server behind `embedlab serve`.

One module per thing it holds:

- `errors`     OpenAI's error JSON, the one body every failure answers with
- `validation` the rules a `POST /v1/embeddings` body must follow, and the limits
- `tokens`     token ids (`cl100k_base`, as LangChain sends them) back to text, with bpe-openai
- `compression` gzip/deflate request bodies under the size limit; gzipped answers when asked
- `responses`  the success bodies: embeddings (float or base64), the model list
- `backends`   the models: bundled WordLlama (numpy only) and sentence-transformers
- `faults`     a backend slowed or broken on purpose, for the server's own tests
- `batching`   the worker thread that runs a backend: merges small requests, splits big ones
               into chunks that take turns, isolates a failing request, stops cleanly
- `access`     who may ask: the Host and Origin checks (web pages) and the API key
- `app`        the Starlette application: routes, error handlers
- `protocol`   the HTTP connection: header and read-time limits, JSON for malformed HTTP, an
               ignored `Upgrade`, an `x-request-id` on every answer
- `serving`    uvicorn on sockets we bind ourselves (127.0.0.1 and ::1 by default), with
               callbacks once ready and on stop
- `known_models` the models `embedlab fetch-model` knows, and where it caches them
- `cli`        `embedlab serve`;  `fetch` is `embedlab fetch-model`
- `launch`     `LocalServer`: start a server in a subprocess from Python (tests, tools)

Nothing here is imported by a grading run unless it starts a server.
It never imports `embedlab.grading`, `embedlab.worker` or `embedlab.instructor`: a server stands
alone, whoever starts it.
"""

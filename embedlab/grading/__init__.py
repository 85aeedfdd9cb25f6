"""The grading side: the pytest plugin and everything a grading test talks to.

- `plugin`    pytest options, fixtures and hooks (`conftest.py` registers it, nothing else)
- `endpoint`  what a test talks to: calls the learner's function through the worker, answers the
              HTTP its client makes (cassette, live endpoint or a synthetic server), logs it
- `cassettes` recorded traffic: matching on model and input, scrubbing, safe-YAML storage
- `live`      the learner's own endpoint for the live checks (`--live`)
- `network`   no sockets in the grading process while it replays
- `outcomes`  how a test ends in words: passed, one-sentence failure, not started
- `source`    a wrong value's line in the learner's file, read with `ast` (never imported)
- `arguments` pytest's arguments for a grading run in a process of its own
- `report`    points, the summary table, "Next:", results JSON for Gradescope and CI

Owns the grade. Imports the worker side's handle (`embedlab.handle.learner`) to run learner code,
and the catalogue (`embedlab.course`); never imports `embedlab.instructor`, never the learner's
files, never `solutions/` (the worker does that, when the target is `solutions`).
"""

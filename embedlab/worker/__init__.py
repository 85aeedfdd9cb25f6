"""The learner's process: where the learner's files are imported and run, and its walls.

- `handle`  the grading side's handle on a worker: `Learner`, `RemoteFunction`, time limits,
            crashes, the forwarded HTTP (the only module here the grading side imports)
- `inside`  the worker itself: imports the learner's files, runs calls, forwards HTTP
- `wire`    the typed, data-only encoding between the two (JSON with tags; never pickle)
- `walls`   what the worker may not do: limits, namespaces, read-only mounts, the sweep of strays

Never imports the grading side (`embedlab.grading`) or `embedlab.instructor`: what the worker runs
must not be able to reach the grade. Failures the handle reports are `CallFailed` sentences, which
the grading plugin turns into failed tests.
"""

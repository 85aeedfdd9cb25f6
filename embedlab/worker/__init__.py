"""The learner's process: where the learner's files are imported and run, and its walls.

- `handle`   the grading side's handle on a worker: `Learner`, its calls, time limits, crashes
             (what the grading side imports; it re-exports what tests use from the next three)
- `values`   what crosses with a call: the client handle, watched arguments, values that stay in
             the worker, the grader's own code, rebuilt exceptions, `CallFailed`
- `forwarding` the learner's HTTP on its way out, checked against OpenAI's limits before any work
- `files`    the learner's folder read from source: copies, locations, imports, import sentences
- `process`  one worker process as the grading side holds it: its pipes, bounded reads,
             non-blocking writes under the call's deadline, its end
- `start`    the worker's first moments: its walls go up, in order, before any learner import
- `inside`   the worker itself: imports the learner's files, runs calls, forwards HTTP
- `wire`     the typed, data-only encoding between the two (JSON with tags; never pickle), bounded
- `walls`    what the worker may not do: limits, namespaces, read-only mounts, in-process blocks
- `users`    who the worker runs as when the grader is root: a user of its own, per submission
- `sweep`    in the grading process: every stray process killed, reading /proc once a round

Never imports the grading side (`embedlab.grading`) or `embedlab.instructor`: what the worker runs
must not be able to reach the grade. Failures the handle reports are `CallFailed` sentences, which
the grading plugin turns into failed tests.
"""

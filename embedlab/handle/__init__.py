"""The grading process's handle on the learner's worker: everything on this side of the pipe.

- `learner`    `Learner`: one folder of exercise files, its calls, time limits, crashes
- `values`     what crosses with a call: the client handle, watched arguments, values that stay in
               the worker, the grader's own code, rebuilt exceptions, `CallFailed`
- `forwarding` the learner's HTTP on its way out, checked against OpenAI's limits before any work
- `files`      the learner's folder read from source: copies, locations, imports, import sentences
- `process`    one worker process as the grading side holds it: its pipes, bounded reads,
               non-blocking writes under the call's deadline, its end
- `sandbox`    the walls' plan, decided once, and the worker's command line (bubblewrap's BOOT)
- `users`      who the worker runs as when the grader is root: a user of its own, per submission
- `sweep`      process control: subreaper, every stray process killed (one read of /proc a
               round), scratch folders, CPU time read from the kernel

It talks to the worker only through the channel's codec (`embedlab.wire`); it may import the
worker's `kernel` to probe what this machine allows, but never runs the worker's code here.
Never imports `embedlab.grading` or `embedlab.instructor`: the handle knows nothing of pytest or
of a class (a failed call is a `CallFailed` sentence, which the grading plugin turns into a test).
"""

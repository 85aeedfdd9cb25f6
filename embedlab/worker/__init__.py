"""The learner's process: what runs in the worker, and nothing else.

- `start`    the worker's first moments (`python -I -B -m embedlab.worker`, or bubblewrap's BOOT
             line in `embedlab.handle.sandbox`): its walls go up, in order, before any learner import
- `limits`   the walls raised inside besides the kernel's: another user, hard limits, the
             in-process blocks (no internet sockets without namespaces, no `import solutions`)
- `kernel`   Landlock and seccomp, raised in the worker's main thread
- `inside`   the call loop: imports the learner's files, runs calls, forwards HTTP

It speaks to the grading process only through the channel's codec (`embedlab.wire`), and reads
the learner's helpers (`embedlab.common`). It never imports the grading process's handle on it
(`embedlab.handle`), the grading side (`embedlab.grading`) or `embedlab.instructor`: nothing that
runs beside the learner's code may reach the grade, or a request log, or the walls' plan.
"""

"""`embedlab dev new` / `embedlab dev check`: the course checks itself, as Rustlings' dev commands do.

Owns the commented templates of a new exercise (`new`), the checks of the course against its tree
(`check`) and the reader of the mistakes catalogue's files (`catalogue`). It reads the kit's files
and runs pytest in a child process; it never imports grading's plugin, the worker, the instructor's
commands or anything of solutions/.
"""

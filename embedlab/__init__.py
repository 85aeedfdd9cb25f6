"""embedlab: exercises and an offline grader for the Embeddings section.

Kept tiny on purpose: a grading run imports this package, and everything heavy (the server,
the backends, `embedlab grade`) is imported only by the command that needs it.
"""

__version__ = "0.1.0"

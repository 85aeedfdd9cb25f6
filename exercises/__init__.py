"""Your exercises. Fill in the functions that raise NotImplementedError, then run `pytest`."""

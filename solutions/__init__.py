"""Reference answers: the same files, names and signatures as exercises/, written to be read."""

"""The course section's own sentences, written once for the exercises, the solutions and the tests."""

# The four documents of the section's tiny semantic search.
DOCS = [
    "The cat sat on the mat.",
    "Python is a popular programming language.",
    "A feline napped on the soft rug.",
    "We deployed the web server at noon.",
]

# The section's query: it shares no word with "A feline napped on the soft rug."
QUERY = "a sleeping cat"

# Challenge 1 adds this sentence to DOCS.
DOG = "a dog barked loudly"

# Challenge 3 embeds these in one request, then one request each.
TEN_SENTENCES = [
    "The cat sat on the mat.",
    "A feline rested on the rug.",
    "Dogs love long walks in the park.",
    "Python is a popular programming language.",
    "We deployed the web server at noon.",
    "The stock market closed higher today.",
    "She baked fresh bread this morning.",
    "Rain is expected over the weekend.",
    "The library opens at nine o'clock.",
    "Embeddings turn text into vectors.",
]

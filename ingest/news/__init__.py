"""News: the feed catalogue, fetching, parsing, normalising, dedup, stories and assets."""

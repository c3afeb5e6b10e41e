"""Persistence: the one DuckDB file, its schema and migrations, and the SQL each stage needs.

``Database`` (storage.db) owns connections and DuckDB's one-writer rule; ``schema`` owns the
tables (``sql/*.sql``) and numbered migrations; the domain modules (``news``, ``scores``,
``embeddings``, ``market``, ``flushes``) keep each stage's SQL readable in one place.
"""

from flushwatch.storage.db import Database

__all__ = ["Database"]

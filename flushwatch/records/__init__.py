"""Typed records passed between stages (ingest -> nlp -> scoring) and storage.

Small frozen dataclasses, one module per domain, importing nothing heavy. Storage persists
them; stages produce and consume them; the CLI renders them.
"""

"""docs/schema.md is generated from the schema; it must match what the code creates."""

from __future__ import annotations

from flushwatch.storage.schema_docs import render_schema_markdown

from .conftest import REPO


def test_schema_doc_is_up_to_date() -> None:
    committed = (REPO / "docs" / "schema.md").read_text(encoding="utf-8")
    assert committed == render_schema_markdown(), (
        "docs/schema.md is stale: run `make docs` (python -m flushwatch.storage.schema_docs)"
    )


def test_every_table_and_view_is_documented() -> None:
    text = render_schema_markdown()
    for name in ("runs", "feeds", "headlines", "headline_scores", "candles", "liquidations",
                 "funding_rates", "open_interest", "flushes", "catalysts", "stories"):
        assert f"### `{name}`" in text

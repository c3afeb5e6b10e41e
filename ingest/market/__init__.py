"""Market data: file imports, exchange REST fetch, live liquidation streams."""

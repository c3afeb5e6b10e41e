"""Getting data in: news feeds and files, market data files, exchange REST and streams."""

"""flushwatch: which news set off that leverage flush?

Headlines (ingest) are scored by a local transformer (nlp), stored beside candles,
liquidations, funding and open interest in one DuckDB file (storage), and ranked as the
likely catalysts of detected liquidation cascades (scoring). ``flushwatch.cli`` is a thin
command line over this library; nothing here imports torch until a model is needed.
"""

__version__ = "0.1.0"

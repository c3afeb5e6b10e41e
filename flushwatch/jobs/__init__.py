"""Jobs: work that runs several stages in order, in one place.

The stages (``ingest``, ``nlp``, ``scoring``) each do one thing and never call each other
sideways: ingest does not score what it stored, scoring does not fetch. A job decides the
sequence: ``ingest --score`` (:mod:`.ingest`), the cron pass ``flushwatch run`` (:mod:`.run`),
the rules refresh followed by re-attribution (:mod:`.refresh`). The command line and the demo
sit above; ``.importlinter`` states the layers.
"""

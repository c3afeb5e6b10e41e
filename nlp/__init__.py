"""Reading headlines: the scoring model, its heads and the rules beside them.

Everything here is what ``flushwatch score`` runs; fitting, calibration and evaluation live in
:mod:`flushwatch.training`, which nothing here imports. Importing this package is cheap;
torch and transformers load only when a model is built.
"""

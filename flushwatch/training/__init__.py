"""Fitting, calibrating and evaluating the shipped model: ``flushwatch model train``,
``calibrate``, ``eval`` and ``compare``.

Why a package of its own: scoring needs none of this, and a cold ``flushwatch score`` must not
pay for scikit-learn, the optimiser or the labelled sets. Modules here may import the scoring
modules of :mod:`flushwatch.nlp` (training reads the network through the same scorer that
ships); nothing in :mod:`flushwatch.nlp` imports this package (tested).
"""

"""Reading headlines: the transformer model wrapper, its heads, and how they are trained.

Importing this package is cheap; torch and transformers load only when a model is built.
"""

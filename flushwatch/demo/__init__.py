"""The offline demo: bundled feed files and market figures taken through the real pipeline."""

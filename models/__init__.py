"""Trained heads and adapters committed with the code (see models/README.md)."""

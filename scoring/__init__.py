"""Flush detection and catalyst attribution: from stored market data and scored headlines."""

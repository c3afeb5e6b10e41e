"""Commands for this domain are registered here (filled in by its issue)."""

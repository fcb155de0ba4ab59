"""Backends: code generators that read checked networks."""

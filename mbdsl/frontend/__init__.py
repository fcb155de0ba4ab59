"""Spec text -> network model (parse, include, elaborate)."""

from .elaborate import load, load_string

__all__ = ["load", "load_string"]

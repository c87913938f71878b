"""Exact trace-driven cache-hierarchy simulation and kernel traffic models."""

from .errors import CacheSimError

__all__ = ["CacheSimError"]

"""Mapping the Linguistic Blood Bank: balanced data for cross-lingual transfer."""

__version__ = "0.1.0"

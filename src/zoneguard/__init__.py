"""Zoneguard: executes crypto-futures signals with an entry zone, stop-loss and take-profit."""

__version__ = "0.1.0"

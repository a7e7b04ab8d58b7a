"""The position engine: the trading decisions as pure, synchronous code.

It is handed events (a price, a close that filled, the time) and answers with intents
(close this quantity for this reason, move the stop); the worker carries intents out and
the backtester simulates them, so both take the same decisions from the same prices. It
imports only ``zoneguard.domain`` and does no I/O (an import contract holds it to that).
"""

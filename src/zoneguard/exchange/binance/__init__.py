"""Binance USDⓈ-M futures: signing, codes, wire shapes (the adapter is built on these).

Protocol facts and their sources: ``../shared/research/venues-and-strategies.md`` §A and
Binance's published USDⓈ-M documentation; where a shape is inferred rather than documented,
the module says so.
"""

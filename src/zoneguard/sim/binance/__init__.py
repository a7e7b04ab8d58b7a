"""The simulator's Binance USDⓈ-M futures dialect (``zoneguard sim --venue binance``).

The same matching engine as the BitMart dialect, reached through Binance's REST paths,
parameters, signatures, error codes and JSON shapes, so that a Binance client (the
official SDK, ccxt) pointed at the simulator works unchanged. The modules each do one
job: :mod:`.auth` (keys, timestamps, signatures), :mod:`.errors` (codes), :mod:`.params`
(reading parameters), :mod:`.symbols` (filters and the base-asset/contract conversion),
:mod:`.memory` (what the dialect remembers beside the engine), :mod:`.shapes` (JSON),
the ``routes_*`` modules (one per family of endpoints), :mod:`.limits` (rate-limit
counters and headers) and :mod:`.rest` (the front that ties them together).

Facts come from ``docs/`` of Binance's derivatives API as quoted in the SDK's docstrings;
where a shape or a behaviour is inferred rather than documented, the code says so.
"""

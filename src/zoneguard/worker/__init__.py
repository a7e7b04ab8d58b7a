"""The ws-worker (the seed's WS-Worker): watches prices, places orders in their entry zone,
guards positions with SL/TP, and reports every step to the app by callback.

Durable pieces: ``config`` (orders.yaml + environment), ``journal`` (the OrderQueue's
SQLite store and callback outbox), ``outbox`` (callback delivery), ``alerts`` (operator
alerts), ``logs`` (var/log/app.log). It may import ``zoneguard.domain`` and
``zoneguard.exchange``, never ``zoneguard.sim`` or ``zoneguard.app``.
"""

"""The Trading-App (the seed's Symfony app): signals in, a durable bus out to the worker,
callbacks back in, OrderLifecycle and Position in SQL, the ``orders`` log channel.

It talks to the worker only over HTTP (``worker_client``) and imports nothing of
``zoneguard.worker``: the callback signature check is re-implemented in ``signature``.
It may import ``zoneguard.domain`` (signal validation reuses ``parse_plan``).
"""

"""BitMart USDT-M futures (V2) adapter: signing, REST, websocket, wire parsing.

Nothing BitMart-shaped leaves this package: callers get ``zoneguard.domain`` types and
``zoneguard.exchange.errors`` exceptions.
"""

from zoneguard.exchange.bitmart.adapter import BitMartExchange
from zoneguard.exchange.bitmart.ids import client_order_id_for
from zoneguard.exchange.bitmart.settings import BitMartSettings

__all__ = ["BitMartExchange", "BitMartSettings", "client_order_id_for"]

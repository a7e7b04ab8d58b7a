"""BitMart USDT-M futures (V2) adapter: signing, REST, websocket, wire parsing."""

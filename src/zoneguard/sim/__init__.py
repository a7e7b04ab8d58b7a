"""A local BitMart-protocol exchange simulator, reached over real sockets."""

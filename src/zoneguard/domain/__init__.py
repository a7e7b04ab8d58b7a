"""Pure domain logic: no I/O, no asyncio. Everything else calls into it."""

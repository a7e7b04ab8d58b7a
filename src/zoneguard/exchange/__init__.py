"""Exchange port and venue adapters."""

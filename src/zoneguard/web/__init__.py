"""HTTP pieces shared by our servers that know nothing of trading (ASGI middleware)."""

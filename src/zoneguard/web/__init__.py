"""HTTP pieces shared by the worker's and the app's servers (pure ASGI, nothing of ours)."""

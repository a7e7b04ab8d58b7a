"""The app's HTTP API (FastAPI; OpenAPI at ``/docs`` and ``/openapi.json``)."""

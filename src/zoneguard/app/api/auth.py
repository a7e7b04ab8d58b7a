"""The app's door: with ``ZONEGUARD_API_TOKEN`` set, its API needs ``Authorization: Bearer
<token>`` (the worker's rule). ``/health``, the dashboard's page and static files and the
OpenAPI pages stay open; callbacks have their own door (a signature, or a loopback peer).

The token is compared in constant time. The OpenAPI document declares the bearer scheme
only when a token is set, so it says what the running app really asks for.
"""

from __future__ import annotations

import hmac

from fastapi import Depends, Request
from fastapi.params import Depends as DependsParam
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from zoneguard.app.api.errors import field_errors
from zoneguard.app.api.schemas import ErrorBody
from zoneguard.domain.errors import FieldError

AUTH_FIELD = "authorization"


class Unauthorised(Exception):
    """A request without the right bearer token."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


def bearer_guard(token: str | None) -> list[DependsParam]:
    """The dependencies every protected router gets: none when no token is set."""
    if token is None:
        return []
    scheme = HTTPBearer(auto_error=False, description="ZONEGUARD_API_TOKEN")
    expected = token.encode()

    async def authorised(
        credentials: HTTPAuthorizationCredentials | None = Depends(scheme),
    ) -> None:
        if credentials is None:
            raise Unauthorised("missing; send Authorization: Bearer <ZONEGUARD_API_TOKEN>")
        if not hmac.compare_digest(credentials.credentials.encode(), expected):
            raise Unauthorised("wrong bearer token")

    return [Depends(authorised)]


UNAUTHORISED_DOC: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorBody, "description": "missing or wrong bearer token (names authorization)"}
}


async def on_unauthorised(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Unauthorised)
    return field_errors(
        401, [FieldError(AUTH_FIELD, exc.message)], headers={"WWW-Authenticate": "Bearer"}
    )

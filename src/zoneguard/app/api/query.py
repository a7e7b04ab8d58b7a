"""Query parameters a route does not take are refused (422 naming the parameter) rather than
ignored: ``GET /api/orders?stauts=failed`` would otherwise list every order, and an operator
would read it as the failed ones."""

from __future__ import annotations

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from zoneguard.app.api.errors import field_errors
from zoneguard.domain.errors import FieldError

_MAX_NAME = 64
_known: dict[int, frozenset[str]] = {}


class UnknownQuery(Exception):
    def __init__(self, problem: FieldError) -> None:
        self.problem = problem
        super().__init__(str(problem))


def _names(route: APIRoute) -> frozenset[str]:
    names = _known.get(id(route))
    if names is None:
        names = _known[id(route)] = frozenset(_query_names(route.dependant))
    return names


def _query_names(dependant: Dependant) -> list[str]:
    names = [param.alias for param in dependant.query_params]
    for sub in dependant.dependencies:
        names.extend(_query_names(sub))
    return names


async def known_query_only(request: Request) -> None:
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    known = _names(route)
    for name in request.query_params:
        if name in known:
            continue
        if name.isidentifier() and len(name) <= _MAX_NAME:
            raise UnknownQuery(FieldError(name, f"is not a parameter here; use {_listed(known)}"))
        quoted = repr(name[:_MAX_NAME])
        raise UnknownQuery(FieldError("query", f"unknown parameter {quoted}; use {_listed(known)}"))


def _listed(known: frozenset[str]) -> str:
    return ", ".join(sorted(known)) or "none"


async def on_unknown_query(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, UnknownQuery)
    return field_errors(422, [exc.problem])

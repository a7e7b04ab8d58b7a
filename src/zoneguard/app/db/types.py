"""Column types that keep prices and sizes exact on every database."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Integer, Numeric, String
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

from zoneguard.domain.values import decimal_text

DECIMAL_PRECISION = 38
DECIMAL_SCALE = 18


def decimal_column_type() -> TypeEngine[Any]:
    """What the migration creates: NUMERIC(38, 18), or TEXT on SQLite (whose NUMERIC is a
    float underneath and would round)."""
    return Numeric(DECIMAL_PRECISION, DECIMAL_SCALE).with_variant(String(64), "sqlite")


def id_column_type() -> TypeEngine[int]:
    """A 64-bit auto-increment key; SQLite only auto-increments ``INTEGER PRIMARY KEY``."""
    return BigInteger().with_variant(Integer(), "sqlite")


class ExactDecimal(TypeDecorator[Decimal]):
    """``Decimal`` in, the same ``Decimal`` out (shortest text: ``65000``, not
    ``65000.000000000000000000``)."""

    impl = Numeric
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(64))
        return dialect.type_descriptor(Numeric(DECIMAL_PRECISION, DECIMAL_SCALE))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, Decimal) or not value.is_finite():
            raise ValueError(f"not a finite Decimal: {value!r}")
        return decimal_text(value) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return Decimal(decimal_text(Decimal(str(value))))

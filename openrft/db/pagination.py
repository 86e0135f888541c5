"""Cursor pagination over a table's ``seq`` column, the way the openai SDK pages."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from openrft.errors import InvalidRequestError


@dataclass(frozen=True)
class Page:
    rows: Sequence[sa.Row[Any]]
    has_more: bool


def fetch_page(
    session: Session,
    table: sa.Table,
    where: sa.ColumnElement[bool],
    *,
    after: str | None,
    limit: int,
    descending: bool = True,
) -> Page:
    """Rows matching ``where`` that come after the row with id ``after`` in ``seq`` order.

    An ``after`` that names no row matching ``where`` is a 400 (param "after").
    """
    query = sa.select(table).where(where)
    if after is not None:
        cursor = session.execute(
            sa.select(table.c.seq).where(where, table.c.id == after)
        ).scalar_one_or_none()
        if cursor is None:
            raise InvalidRequestError(
                f"Invalid 'after' cursor: no object with id '{after}' in this list.",
                param="after",
            )
        query = query.where(table.c.seq < cursor if descending else table.c.seq > cursor)
    order = table.c.seq.desc() if descending else table.c.seq.asc()
    rows = session.execute(query.order_by(order).limit(limit + 1)).all()
    return Page(rows=rows[:limit], has_more=len(rows) > limit)

"""Many rows at once: COPY into PostgreSQL, a prepared multi-row insert into SQLite, and an
update per changed row. Values are given by model field name, in the model's Python types."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection, models
from django.db.models import QuerySet


def _fields(model: type[models.Model], names: Sequence[str]) -> list[models.Field]:
    # get_field knows a foreign key by its column name too (shop_id).
    return [model._meta.get_field(name) for name in names]


def insert_rows(model: type[models.Model], names: Sequence[str], rows: list[tuple]) -> None:
    if not rows:
        return
    fields = _fields(model, names)
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    columns = ", ".join(quote(f.column) for f in fields)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # psycopg adapts Decimal, aware datetimes and None itself.
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        marks = ", ".join(["%s"] * len(fields))
        cursor.executemany(
            f"INSERT INTO {table} ({columns}) VALUES ({marks})",
            [_prepared(fields, row) for row in rows],
        )


def update_rows(model: type[models.Model], names: Sequence[str], rows: list[tuple]) -> None:
    """Each row is the new values in `names` order, then the primary key."""
    if not rows:
        return
    fields = _fields(model, names)
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    sets = ", ".join(f"{quote(f.column)} = %s" for f in fields)
    pk = quote(model._meta.pk.column)
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {table} SET {sets} WHERE {pk} = %s",
            [(*_prepared(fields, row[:-1]), row[-1]) for row in rows],
        )


def _prepared(fields: list[models.Field], row: tuple) -> tuple:
    return tuple(
        f.get_db_prep_save(value, connection) for f, value in zip(fields, row, strict=True)
    )


def where_in(queryset: QuerySet, name: str, values: Sequence) -> QuerySet:
    """`name IN values` for thousands of values: one array parameter on PostgreSQL (= ANY),
    which the driver binds without parsing a query with thousands of placeholders."""
    if connection.vendor != "postgresql":
        return queryset.filter(**{f"{name}__in": list(values)})
    model = queryset.model
    quote = connection.ops.quote_name
    field = model._meta.get_field(name)
    column = f"{quote(model._meta.db_table)}.{quote(field.column)}"
    # Typed as the column is, or the driver's guess (numeric[]) would hide the index.
    kind = "bigint" if field.get_internal_type() in ("ForeignKey", "BigAutoField") else "text"
    return queryset.extra(where=[f"{column} = ANY(%s::{kind}[])"], params=[list(values)])

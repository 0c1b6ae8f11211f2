"""Many rows at once: COPY into PostgreSQL, a prepared multi-row insert into SQLite, and an
update per changed row. Values are given by model field name, in the model's Python types."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from django.db import connection, models

# COPY's text format, written here: a third cheaper than the driver's row by row.
COPY_CHUNK = 5000
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_NEEDS_ESCAPE = re.compile(r"[\\\t\n\r]")


def _copy_text(value: object) -> str:
    """One value in COPY's text format: NULL as \\N, text escaped, times in ISO 8601 with
    their offset, booleans as t/f, numbers (Decimal keeps its cents) as they print."""
    if value is None:
        return "\\N"
    kind = value.__class__
    if kind is str:
        return value.translate(_COPY_ESCAPES) if _NEEDS_ESCAPE.search(value) else value
    if kind is bool:
        return "t" if value else "f"
    if kind is datetime:
        if value.tzinfo is None:
            raise ValueError("a naive datetime has no place in a timestamptz column")
        return value.isoformat()
    if kind is int or kind is Decimal:
        return str(value)
    if isinstance(value, str):  # a TextChoices member: its value
        return _copy_text(str.__str__(value))
    if isinstance(value, int):  # an IntegerChoices member
        return str(int(value))
    raise TypeError(f"no COPY text for {kind.__name__}")


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
    # The raw driver's errors become Django's (IntegrityError …), as through the ORM.
    with connection.cursor() as cursor, connection.wrap_database_errors:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for start in range(0, len(rows), COPY_CHUNK):
                    chunk = rows[start : start + COPY_CHUNK]
                    copy.write("".join(["\t".join(map(_copy_text, row)) + "\n" for row in chunk]))
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


def select_in(
    model: type[models.Model],
    names: Sequence[str],
    filters: dict[str, object],
    in_name: str,
    values: Sequence,
) -> list[tuple]:
    """`SELECT names FROM model WHERE filters AND in_name IN values` as plain tuples. On
    PostgreSQL the values go as one array and the rows come back in binary, so thousands of
    times and amounts load in C rather than being parsed from text one by one."""
    if connection.vendor != "postgresql":
        queryset = model.objects.filter(**filters, **{f"{in_name}__in": list(values)})
        return list(queryset.values_list(*names))
    import psycopg

    quote = connection.ops.quote_name
    fields = _fields(model, names)
    columns = ", ".join(quote(f.column) for f in fields)
    where = [f"{quote(model._meta.get_field(name).column)} = %s" for name in filters]
    target = model._meta.get_field(in_name)
    where.append(f"{quote(target.column)} = ANY(%s::{_pg_type(target)}[])")
    statement = f"SELECT {columns} FROM {quote(model._meta.db_table)} WHERE {' AND '.join(where)}"
    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(statement, [*filters.values(), list(values)], binary=True)
        return cursor.fetchall()


_PG_TYPES = {
    "AutoField": "integer",
    "BigAutoField": "bigint",
    "BigIntegerField": "bigint",
    "BooleanField": "boolean",
    "CharField": "text",
    "DateTimeField": "timestamptz",
    "DecimalField": "numeric",
    "IntegerField": "integer",
    "PositiveIntegerField": "integer",
    "PositiveSmallIntegerField": "smallint",
    "SlugField": "text",
    "TextField": "text",
}


def _pg_type(field: models.Field) -> str:
    if field.is_relation:
        field = field.target_field
    return _PG_TYPES[field.get_internal_type()]

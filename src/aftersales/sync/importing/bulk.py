"""Many rows at once: COPY into PostgreSQL, a prepared multi-row insert into SQLite, and an
update per changed row. Values are given by model field name, in the model's Python types."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection, models


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
            # psycopg adapts Decimal, aware datetimes and None itself; told the column types
            # once, it does not look a dumper up for every value.
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                copy.set_types([_pg_type(f) for f in fields])
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

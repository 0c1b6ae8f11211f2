"""The bulk order import: rows stream in, are checked, and land a batch at a time.

Each batch is one transaction: the orders and lines it names are read back in one query each,
compared with the file, and only what differs is written — new rows by COPY on PostgreSQL (a
multi-row insert on SQLite), changed ones by update, the same ones not at all. So a file
imported twice changes nothing the second time, and an updated export touches only the orders
that changed. An order that moved (paid, shipped, signed) runs the same order hooks as an API
upsert: its shipping clock starts or stops and its open cases are decided again.

An order is all or nothing: when one of its rows is wrong (a bad number, an unknown SKU), none
of its rows land, and each is reported (row, column, value, message). A row repeating an order
line already read is refused on its own. The import never deletes lines: an export that lacks
one says nothing about it; nor does a column the file lacks, so the stored value stays.

Memory is flat: a batch holds at most BATCH rows (an order's rows stay together, so a batch
ends at an order's end), problems are written to the database as they come, and only a cache of
the shop's SKUs is kept across batches.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.db import IntegrityError, connection, transaction
from django.db.models import DecimalField, F, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from aftersales.catalog.models import Product
from aftersales.channels.models import Customer, Order, OrderLine, OrderStatus, Shipment
from aftersales.channels.services import ORDER_HOOKS, order_status_for
from aftersales.core.money import MONEY_MAX, ZERO, money
from aftersales.sync.importing.base import MAX_KEY, RowImporter, too_long
from aftersales.sync.importing.bulk import insert_rows, select_in, update_rows
from aftersales.sync.importing.presets import CANCELLED_WORDS, ORDER_FIELDS
from aftersales.sync.importing.reader import Table
from aftersales.sync.importing.values import CellError, count_of, money_of, time_of

BATCH = 20000
RETRIES = 5  # a batch that keeps meeting other writers' new orders gives up
CENT = Decimal("0.01")


@dataclass(slots=True)
class Line:
    row: int
    sku: str
    title: str
    quantity: int
    unit_price: Decimal
    discount: Decimal
    paid: Decimal


@dataclass(slots=True)
class Head:
    shipping_fee: Decimal
    placed_at: dt.datetime | None
    paid_at: dt.datetime | None
    shipped_at: dt.datetime | None
    signed_at: dt.datetime | None
    cancelled: bool
    buyer_name: str
    phone: str
    courier: str
    tracking_number: str
    payment_reference: str

    @property
    def status(self) -> str:
        return order_status_for(
            cancelled=self.cancelled,
            paid_at=self.paid_at,
            shipped_at=self.shipped_at,
            signed_at=self.signed_at,
        )


@dataclass
class Group:
    """One order's rows in the batch."""

    number: str
    first_row: int
    head: Head | None = None
    lines: dict[str, Line] = field(default_factory=dict)
    rows: list[int] = field(default_factory=list)
    # The first problem that refuses the whole order: (row, column).
    refused: tuple[int, str] | None = None
    # Its lines' paid amounts and its shipping fee, once it is known to be whole.
    total: Decimal = ZERO


@dataclass
class Batch:
    """What the reader hands the writer: orders, and the problems found while reading."""

    groups: dict[str, Group] = field(default_factory=dict)
    problems: list[tuple[int, str, str, str]] = field(default_factory=list)
    failed: int = 0


class OrderImporter(RowImporter):
    fields = ORDER_FIELDS

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.currency = self.channel.shop.currency
        self.skus: dict[str, tuple[int, str]] = {}
        self.missing_skus: set[str] = set()

    # ----------------------------------------------------------------------- reading

    def run(self, table: Table, tick: Callable[[], None]) -> None:
        # Measured on this project's two-vCPU machines: reading the next batch in a second
        # thread, or in a child process, while this one is written made the import slower
        # (the GIL, or pickling, cost more than the overlap gained), so batches are read and
        # written in turn.
        for batch in self._batches(table.rows):
            self._flush(batch)
            tick()
        tick()

    def _batches(self, rows: Iterator[tuple[int, list[str]]]) -> Iterator[Batch]:
        batch = self.batch = Batch()
        size = 0
        last = ""
        at_number = self.at["order_number"]
        for number, values in rows:
            self.counts.rows += 1
            order_number = values[at_number]
            if not order_number or len(order_number) > MAX_KEY:
                problem = _("Required.") if not order_number else too_long()
                self._refuse_row(number, "order_number", order_number[:200], problem)
                continue
            if size >= BATCH and order_number != last:
                yield batch
                batch = self.batch = Batch()
                size = 0
            last = order_number
            group = batch.groups.get(order_number)
            if group is None:
                group = batch.groups[order_number] = Group(order_number, number)
            group.rows.append(number)
            size += 1
            self._read_row(group, number, values)
        if batch.groups or batch.problems:
            yield batch

    def _refuse_row(self, row: int, name: str, value: str, message: str) -> None:
        self.batch.failed += 1
        self.batch.problems.append((row, self._header(name), value, message))

    def _refuse(self, group: Group, row: int, name: str, value: str, message: str) -> None:
        """While reading: the batch carries the problem to the writer."""
        self.batch.problems.append((row, self._header(name), value, message))
        if group.refused is None:
            group.refused = (row, name)

    def _read_row(self, group: Group, row: int, values: list[str]) -> None:
        if group.head is None and group.refused is None:
            group.head = self._read_head(group, row, values)
        at = self.at  # the hot path: a million rows come through here
        sku = values[at["sku"]]
        if not sku or len(sku) > MAX_KEY:
            problem = _("Required.") if not sku else too_long()
            self._refuse(group, row, "sku", sku[:200], problem)
            return
        if sku in group.lines:
            # Refused on its own: the order's line is already in from the earlier row.
            group.rows.remove(row)
            self._refuse_row(
                row,
                "sku",
                sku,
                _("Duplicate row: order %(order)s already has SKU %(sku)s on row %(row)s.")
                % {"order": group.number, "sku": sku, "row": group.lines[sku].row},
            )
            return
        name = "quantity"
        try:
            quantity = count_of(values[at["quantity"]])
            name = "unit_price"
            unit_price = money_of(values[at["unit_price"]])
            if unit_price is None:
                # The export prints the line's total: that is what the line cost, to the
                # cent; the unit price is its share, rounded, for display.
                name = "line_total"
                gross = money_of(values[at["line_total"]])
                if gross is None:
                    raise CellError(_("Required."))
                unit_price = (gross / quantity).quantize(CENT, ROUND_HALF_UP)
            else:
                gross = unit_price * quantity  # cents × a whole number: still cents
            name = "discount"
            discount = money_of(values[at["discount"]]) or ZERO
            name = "paid_amount"
            paid = money_of(values[at["paid_amount"]])
            paid = gross - discount if paid is None else paid
            if gross > MONEY_MAX:
                name = "quantity"
                raise CellError(_("Quantity × unit price is too large."))
            if paid < ZERO:
                raise CellError(_("The discount is larger than the line."))
            if paid > gross:
                raise CellError(_("Cannot exceed quantity × unit price."))
        except CellError as exc:
            self._refuse(group, row, name, values[at[name]], exc.message)
            return
        title = values[at["title"]][:200]
        group.lines[sku] = Line(row, sku, title, quantity, unit_price, discount, paid)

    def _read_head(self, group: Group, row: int, values: list[str]) -> Head | None:
        parsed: dict[str, object] = {}
        for name in ("placed_at", "paid_at", "shipped_at", "signed_at"):
            text = self._cell(values, name)
            try:
                parsed[name] = time_of(text, self.tz)
            except CellError as exc:
                self._refuse(group, row, name, text, exc.message)
                return None
        text = self._cell(values, "shipping_fee")
        try:
            parsed["shipping_fee"] = money_of(text) or ZERO
        except CellError as exc:
            self._refuse(group, row, "shipping_fee", text, exc.message)
            return None
        order = [(n, parsed[n]) for n in ("paid_at", "shipped_at", "signed_at")]
        for (earlier_name, earlier), (later_name, later) in zip(order, order[1:], strict=False):
            if earlier and later and later < earlier:  # type: ignore[operator]
                message = _("Cannot be before %(name)s.") % {"name": self._header(earlier_name)}
                self._refuse(group, row, later_name, self._cell(values, later_name), message)
                return None
        if (parsed["shipped_at"] or parsed["signed_at"]) and not parsed["paid_at"]:
            self._refuse(group, row, "paid_at", "", _("A shipped order must have been paid."))
            return None
        status_text = self._cell(values, "order_status")
        return Head(
            shipping_fee=parsed["shipping_fee"],  # type: ignore[arg-type]
            placed_at=parsed["placed_at"],  # type: ignore[arg-type]
            paid_at=parsed["paid_at"],  # type: ignore[arg-type]
            shipped_at=parsed["shipped_at"],  # type: ignore[arg-type]
            signed_at=parsed["signed_at"],  # type: ignore[arg-type]
            cancelled=status_text.lower() in CANCELLED_WORDS,
            buyer_name=self._cell(values, "buyer_name")[:120],
            phone=self._cell(values, "phone")[:32],
            courier=self._cell(values, "courier")[:40],
            tracking_number=self._cell(values, "tracking_number")[:64],
            payment_reference=self._cell(values, "payment_reference")[:64],
        )

    # ----------------------------------------------------------------------- writing

    def _flush(self, batch: Batch) -> None:
        for problem in batch.problems:
            self.problems.add(*problem)
        self.counts.failed += batch.failed
        self._check_skus(batch.groups)
        good = {}
        for number, group in batch.groups.items():
            if group.refused is None and group.head is not None and group.lines:
                total = sum((line.paid for line in group.lines.values()), group.head.shipping_fee)
                group.total = total  # cents plus cents: still cents
                if total <= MONEY_MAX:
                    good[number] = group
                    continue
                self.problems.add(
                    group.first_row,
                    self._header("order_number"),
                    number,
                    _("The order total is too large."),
                )
                group.refused = (group.first_row, "order_number")
            self._refuse_siblings(group)
        for attempt in range(RETRIES):
            try:
                self._write(good)
                break
            except IntegrityError:
                # Another import or API call created one of these orders meanwhile: the
                # batch was rolled back; read again (now it exists) and write the rest.
                if attempt == RETRIES - 1:
                    raise
        self.problems.flush()

    def _check_skus(self, batch: dict[str, Group]) -> None:
        wanted = {
            sku
            for group in batch.values()
            for sku in group.lines
            if sku not in self.skus and sku not in self.missing_skus
        }
        if wanted:
            found = Product.objects.filter(shop_id=self.shop_id, sku__in=wanted).values_list(
                "sku", "id", "name"
            )
            for sku, pk, name in found:
                self.skus[sku] = (pk, name)
            self.missing_skus |= wanted - self.skus.keys()
        for group in batch.values():
            for sku, line in group.lines.items():
                if sku in self.missing_skus:
                    message = _("Unknown SKU %(sku)s.") % {"sku": sku}
                    self.problems.add(line.row, self._header("sku"), sku, message)
                    if group.refused is None:
                        group.refused = (line.row, "sku")

    def _refuse_siblings(self, group: Group) -> None:
        """Every row of a refused order is reported; the one at fault already is."""
        bad_row = group.refused[0] if group.refused else group.first_row
        reported = set(self.problems.rows_seen)
        for row in group.rows:
            self.counts.failed += 1
            if row in reported:
                continue
            self.problems.add(
                row,
                self._header("order_number"),
                group.number,
                _("Not imported: row %(row)s of order %(order)s has a problem.")
                % {"row": bad_row, "order": group.number},
            )

    @transaction.atomic
    def _write(self, groups: dict[str, Group]) -> None:
        if not groups:
            return
        if connection.vendor == "postgresql":
            # A crash loses at most the last batches, and importing the file again restores
            # them: no need to wait for each batch's WAL to reach the disk.
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
        now = timezone.now()
        existing = {
            row[0]: row
            for row in select_in(
                Order,
                [
                    "external_id",
                    "id",
                    "status",
                    "shipping_fee",
                    "placed_at",
                    "paid_at",
                    "shipped_at",
                    "signed_at",
                    "payment_reference",
                    "customer_id",
                ],
                {"shop_id": self.shop_id, "channel_id": self.channel.pk},
                "external_id",
                list(groups),
            )
        }
        customers = self._customers(groups, existing, now)
        created = [g for n, g in groups.items() if n not in existing]
        self._insert_orders(created, customers, now)
        ids = {n: row[1] for n, row in existing.items()}
        if created:
            ids.update(
                select_in(
                    Order,
                    ["external_id", "id"],
                    {"shop_id": self.shop_id, "channel_id": self.channel.pk},
                    "external_id",
                    [g.number for g in created],
                )
            )
        changed_heads, moved = self._update_orders(groups, existing, customers, now)
        touched = self._write_lines(groups, existing, ids)
        self._write_shipments(groups, existing, ids)
        recount = (touched | changed_heads) & {ids[n] for n in existing}
        if recount:
            self._recount(recount)
        self.counts.created += len(created)
        updated = {n for n in existing if ids[n] in (touched | changed_heads)}
        self.counts.updated += len(updated)
        self.counts.unchanged += len(existing) - len(updated)
        moved += [ids[g.number] for g in created if g.head.status == OrderStatus.PAID]
        self._run_hooks(moved, {ids[n] for n in existing})

    def _customers(self, groups, existing, now) -> dict[str, int]:
        """Customers by phone, made when first seen. A masked phone (138****1234, as the
        marketplaces export them) names nobody, so it links no customer."""
        phones = {
            g.head.phone: g.head.buyer_name
            for n, g in groups.items()
            if g.head.phone
            and "*" not in g.head.phone
            and (n not in existing or existing[n][9] is None)
        }
        if not phones:
            return {}
        known = dict(
            Customer.objects.filter(shop_id=self.shop_id, phone__in=list(phones))
            .order_by("-id")
            .values_list("phone", "id")
        )
        new = [p for p in phones if p not in known]
        if new:
            Customer.objects.bulk_create(
                [Customer(shop_id=self.shop_id, phone=p, name=phones[p]) for p in new]
            )
            known.update(
                Customer.objects.filter(shop_id=self.shop_id, phone__in=new)
                .order_by("-id")
                .values_list("phone", "id")
            )
        return known

    def _insert_orders(self, created: list[Group], customers: dict[str, int], now) -> None:
        if not created:
            return
        fields = [
            "shop_id",
            "channel_id",
            "external_id",
            "customer_id",
            "status",
            "currency",
            "shipping_fee",
            "total_paid",
            "shipping_insurance",
            "payment_provider",
            "payment_reference",
            "placed_at",
            "paid_at",
            "shipped_at",
            "signed_at",
            "created_at",
            "updated_at",
        ]
        rows = []
        for g in created:
            h = g.head
            total = g.total
            rows.append(
                (
                    self.shop_id,
                    self.channel.pk,
                    g.number,
                    customers.get(h.phone),
                    h.status,
                    self.currency,
                    h.shipping_fee,
                    total,
                    False,
                    self.preset.payment_provider,
                    h.payment_reference,
                    h.placed_at,
                    h.paid_at,
                    h.shipped_at,
                    h.signed_at,
                    now,
                    now,
                )
            )
        insert_rows(Order, fields, rows)

    def _update_orders(self, groups, existing, customers, now) -> tuple[set[int], list[int]]:
        fields = [
            "status",
            "shipping_fee",
            "placed_at",
            "paid_at",
            "shipped_at",
            "signed_at",
            "payment_reference",
            "customer_id",
            "updated_at",
        ]
        rows, changed, moved = [], set(), []
        has = self.columns.__contains__
        for number, row in existing.items():
            h = groups[number].head
            # A column the file lacks says nothing: the stored value stays.
            _old_status, fee, placed, paid, shipped, signed = row[2:8]
            paid = h.paid_at if has("paid_at") else paid
            shipped = h.shipped_at if has("shipped_at") else shipped
            signed = h.signed_at if has("signed_at") else signed
            cancelled = h.cancelled if has("order_status") else row[2] == OrderStatus.CANCELLED
            status = order_status_for(
                cancelled=cancelled, paid_at=paid, shipped_at=shipped, signed_at=signed
            )
            customer = row[9] if row[9] is not None else customers.get(h.phone)
            new = (
                status,
                h.shipping_fee if has("shipping_fee") else fee,
                h.placed_at if has("placed_at") else placed,
                paid,
                shipped,
                signed,
                h.payment_reference or row[8],
                customer,
            )
            if new != tuple(row[2:10]):
                rows.append((*new, now, row[1]))
                changed.add(row[1])
                if status != row[2]:
                    moved.append(row[1])
        update_rows(Order, fields, rows)
        return changed, moved

    def _write_lines(self, groups, existing, ids) -> set[int]:
        """Insert new lines, update changed ones; returns the orders whose lines changed."""
        have: dict[tuple[int, str], tuple] = {}
        if existing:
            for row in select_in(
                OrderLine,
                [
                    "order_id", "sku", "id", "product_id", "title", "quantity", "unit_price",
                    "discount", "paid_amount",
                ],
                {"shop_id": self.shop_id},
                "order_id",
                [ids[n] for n in existing],
            ):  # fmt: skip
                have[(row[0], row[1])] = row
        inserts, updates, touched = [], [], set()
        shop_id, skus = self.shop_id, self.skus
        keep_title = "title" in self.columns
        has_discount = "discount" in self.columns
        has_paid = "paid_amount" in self.columns
        for number, g in groups.items():
            order_id = ids[number]
            if number not in existing:  # the common case of a first import: straight in
                inserts.extend(
                    (
                        shop_id,
                        order_id,
                        sku,
                        skus[sku][0],
                        line.title or skus[sku][1],
                        line.quantity,
                        line.unit_price,
                        line.discount,
                        line.paid,
                    )
                    for sku, line in g.lines.items()
                )
                continue
            for sku, line in g.lines.items():
                product_id, name = skus[sku]
                current = have.get((order_id, sku))
                title, discount, paid = line.title or name, line.discount, line.paid
                if current is not None:
                    # A column the file lacks says nothing: the stored value stays.
                    title = title if keep_title else current[4]
                    if not has_discount:
                        discount = current[7]
                        if not has_paid:
                            paid = money(line.unit_price * line.quantity) - discount
                values = (product_id, title, line.quantity, line.unit_price, discount, paid)
                if current is None:
                    inserts.append((shop_id, order_id, sku, *values))
                    touched.add(order_id)
                elif tuple(current[3:]) != values:
                    updates.append((*values, current[2]))
                    touched.add(order_id)
        insert_rows(
            OrderLine,
            [
                "shop_id", "order_id", "sku", "product_id", "title", "quantity", "unit_price",
                "discount", "paid_amount",
            ],
            inserts,
        )  # fmt: skip
        update_rows(
            OrderLine,
            ["product_id", "title", "quantity", "unit_price", "discount", "paid_amount"],
            updates,
        )
        return touched

    def _write_shipments(self, groups, existing, ids) -> None:
        wanted = {
            (ids[n], g.head.tracking_number): g.head
            for n, g in groups.items()
            if g.head.tracking_number
        }
        if not wanted:
            return
        # Only an order we had before can have a parcel already.
        older = [ids[n] for n in existing if groups[n].head.tracking_number]
        known = set(
            select_in(
                Shipment,
                ["order_id", "tracking_number"],
                {"shop_id": self.shop_id},
                "order_id",
                older,
            )
            if older
            else ()
        )
        rows = [
            (self.shop_id, order_id, h.courier or "-", tracking, h.shipped_at)
            for (order_id, tracking), h in wanted.items()
            if (order_id, tracking) not in known
        ]
        insert_rows(
            Shipment, ["shop_id", "order_id", "courier", "tracking_number", "shipped_at"], rows
        )

    def _recount(self, order_ids: set[int]) -> None:
        lines = (
            OrderLine.objects.filter(order_id=OuterRef("pk"))
            .values("order_id")
            .annotate(total=Sum("paid_amount"))
            .values("total")
        )
        decimal = DecimalField(max_digits=12, decimal_places=2)
        Order.objects.filter(shop_id=self.shop_id, pk__in=order_ids).update(
            total_paid=F("shipping_fee")
            + Coalesce(Subquery(lines, output_field=decimal), Value(ZERO), output_field=decimal)
        )

    def _run_hooks(self, moved: list[int], existing_ids: set[int]) -> None:
        """The orders that moved get what an API upsert gives them: clocks and re-decisions."""
        if not moved:
            return
        from aftersales.policies.triggers import order_moved  # the policy builds on orders

        for order in Order.objects.filter(shop_id=self.shop_id, pk__in=moved).select_related(
            "channel"
        ):
            for hook in ORDER_HOOKS:
                hook(order)
            if order.pk in existing_ids:
                order_moved(order)

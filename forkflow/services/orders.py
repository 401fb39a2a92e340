"""Order service: pricing from the menu, idempotent creation, changes after sending (lines added
and voided, each raising the order's revision), firing held courses (the rules are
services/courses.py's), and the status machine."""

from __future__ import annotations

import hashlib
import secrets
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import astuple, dataclass
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any, NamedTuple

from sqlalchemy import Connection, Row, Select, bindparam, func, or_, select, update

from ..choices import group_problem
from ..config import Settings
from ..errors import Conflict, Invalid, NotFound
from ..formats import contains
from ..idempotency import KeyReused
from ..models import LinesIn, OrderIn, OrderLineIn
from ..money.pricing import Bill, PricedLine, Terms
from ..money.pricing import price as price_bill
from ..schema import menu_categories, menu_items, order_discounts, order_line_modifiers, order_lines, orders
from ..store import Store, Tx
from ..vocabulary import ACTIVE_STATUSES, ALLERGENS, COOKING_STATUSES, TRANSITIONS, spoken
from . import online
from .bill import figures, lines_owe, reprice
from .catalog import IN_CATEGORY, MENU_ORDER
from .courses import (
    DEFAULT_COURSE,
    auto_fire,
    check_fire,
    fire_lines,
    fired_at_send,
    fired_when_added,
    held_courses,
    next_course,
    remember_fire,
    replayed_fire,
)
from .dispatch import record_sends
from .hours import pickup_problem, read_hours
from .money_settings import TAX_COLUMNS, TAX_JOIN, money_settings_in
from .representation import Encoded, joined, modifier_out, order_out, words
from .stock import OutOfStock, return_for_line, return_for_order, take_for_order
from .tenders import tenders_of

Order = dict[str, Any]
Modifiers = dict[int, list[dict[str, Any]]]  # each line's chosen options (`modifier_out`s) by line id

# An order's revision when it is placed; each change after sending (lines added or voided) adds one.
FIRST_REVISION = 1

# The `reason` of the 409 that asks to confirm lines containing the order's allergies: the till and
# the shop turn it into their confirmation.
ALLERGY_CONFIRMATION_NEEDED = "allergy_confirmation_needed"

# A completed order may be recalled (completed -> ready, forkflow/vocabulary.py's TRANSITIONS) this long.
RECALL_WINDOW = timedelta(minutes=10)


def business_date(moment: datetime, settings: Settings) -> str:
    """The local service day a moment belongs to; it starts at `day_starts_at`, not midnight."""
    local = moment.astimezone(settings.timezone)
    start = settings.day_starts_at
    shifted = local - timedelta(hours=start.hour, minutes=start.minute)
    return shifted.date().isoformat()


def request_fingerprint(data: OrderIn) -> str:
    """Same validated order, same fingerprint: whitespace or key order in the JSON do not matter.
    Modifiers and allergies (issue 14), and each line's course (issue 15), are left out while empty,
    so that an order without them has the fingerprint it had before they existed: a retry across
    the upgrade still replays."""
    left_out = {i: _unsent(line) for i, line in enumerate(data.items)}
    exclude: dict[str, Any] = {"items": {i: names for i, names in left_out.items() if names}}
    if not data.allergies:
        exclude |= {"allergies": True, "allergies_confirmed": True}
    if data.pickup_at is None:  # (issue 15: likewise)
        exclude["pickup_at"] = True
    if data.guests is None:  # (issue 17: likewise)
        exclude["guests"] = True
    return hashlib.sha256(data.model_dump_json(exclude=exclude).encode()).hexdigest()


def _unsent(line: OrderLineIn) -> set[str]:
    return ({"modifiers"} if not line.modifiers else set()) | ({"course"} if line.course is None else set())


# Built once: making a statement costs more than running it.
_LINES_OF = (
    select(order_lines).where(order_lines.c.order_id.in_(bindparam("ids", expanding=True))).order_by(order_lines.c.id)
)
_MODIFIERS_OF = (
    select(order_line_modifiers)
    .where(order_line_modifiers.c.line_id.in_(bindparam("ids", expanding=True)))
    .order_by(order_line_modifiers.c.line_id, order_line_modifiers.c.position)
)
_ORDER_BY_ID = select(orders).where(orders.c.id == bindparam("id"))
_DISCOUNTS_OF = (
    select(order_discounts)
    .where(order_discounts.c.order_id.in_(bindparam("ids", expanding=True)), order_discounts.c.removed_at.is_(None))
    .order_by(order_discounts.c.id)
)


def _lines_by_order(conn: Connection, order_ids: list[int]) -> dict[int, list[Row[Any]]]:
    grouped: dict[int, list[Row[Any]]] = defaultdict(list)
    if order_ids:
        for line in conn.execute(_LINES_OF, {"ids": order_ids}):
            grouped[line.order_id].append(line)
    return grouped


def _modifiers_by_line(conn: Connection, line_ids: list[int]) -> Modifiers:
    grouped: Modifiers = defaultdict(list)
    if line_ids:
        for row in conn.execute(_MODIFIERS_OF, {"ids": line_ids}):
            grouped[row.line_id].append(modifier_out(row))
    return grouped


def _discounts_by_order(conn: Connection, order_ids: list[int]) -> dict[int, list[Row[Any]]]:
    grouped: dict[int, list[Row[Any]]] = defaultdict(list)
    if order_ids:
        for discount in conn.execute(_DISCOUNTS_OF, {"ids": order_ids}):
            grouped[discount.order_id].append(discount)
    return grouped


def _orders_out(conn: Connection, rows: list[Row[Any]]) -> list[Order]:
    lines = _lines_by_order(conn, [row.id for row in rows])
    modifiers = _modifiers_by_line(conn, [line.id for found in lines.values() for line in found])
    discounts = _discounts_by_order(conn, [row.id for row in rows])
    paid, refunded = tenders_of(conn, [row.id for row in rows])
    return [order_out(row, lines[row.id], modifiers, discounts[row.id], paid[row.id], refunded[row.id]) for row in rows]


def load_order(conn: Connection, order_id: int) -> Order:
    """One order as the API answers it, or 404."""
    return _load(conn, order_id)


def _load(conn: Connection, order_id: int) -> Order:
    row = conn.execute(_ORDER_BY_ID, {"id": order_id}).first()
    if row is None:
        raise NotFound(f"order {order_id} does not exist")
    return _orders_out(conn, [row])[0]


# Creating an order is the hottest write of a rush, so its statements are plain SQL run on the
# driver's connection (`Tx.sql`): SQLAlchemy's execution costs about three times SQLite's own work
# per statement. The SQL names the same tables and columns as schema.py.
_KEY_SQL = "SELECT request_hash, order_id FROM idempotency_keys WHERE key = ?"
_NEXT_TICKET_SQL = "SELECT COALESCE(MAX(ticket_no), 0) + 1 FROM orders WHERE business_date = ?"
_INSERT_ORDER_SQL = (
    "INSERT INTO orders (business_date, ticket_no, customer_name, channel, table_label, notes, status,"
    " total_cents, created_at, updated_at, tracking_token, allergies, revision, pickup_at, release_at, released_at,"
    " slot_at, kitchen_load, guests, prices_include_tax, tax_rounding, service_charge_milli, subtotal_cents,"
    " discount_cents, tax_cents, service_charge_cents)"
    " VALUES (?, ?, ?, ?, ?, ?, 'new', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id"
)
_INSERT_LINE_SQL = (
    "INSERT INTO order_lines (order_id, menu_item_id, name, unit_price_cents, quantity, notes, station, allergens,"
    " revision, course, fired_at, prep_minutes, tax_name, tax_milli)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id"
)
_INSERT_MODIFIERS_SQL = (
    "INSERT INTO order_line_modifiers (line_id, option_id, group_name, option_name, price_cents, count, group_kind,"
    " exactly_one, position) VALUES "
)
_MODIFIER_ROW = "(?, ?, ?, ?, ?, ?, ?, ?, ?)"
MODIFIER_ROWS_PER_INSERT = 100  # 900 parameters: under any SQLite's limit (999 before 3.32) and PostgreSQL's
_INSERT_KEY_SQL = "INSERT INTO idempotency_keys (key, request_hash, order_id, created_at) VALUES (?, ?, ?, ?)"
# The dishes an order names, each with every option of its groups, in one statement (a dish without
# groups comes once, its option columns NULL): one statement less per order than dishes, then
# options. Sorted into the menu's order in Python: SQLite's temporary b-tree for an ORDER BY cost
# as much as the join.
_MENU_SQL = (
    "SELECT m.id, m.name, m.price_cents, m.station, m.available, m.allergens,"
    " o.id, g.id, g.name, g.kind, g.min_choices, g.max_choices, o.name, o.price_cents, o.allergens, o.available,"
    " g.position, o.position, EXISTS (SELECT 1 FROM option_recipe_lines r WHERE r.option_id = o.id),"
    f" COALESCE(c.course, {DEFAULT_COURSE}), m.prep_minutes, m.prep_load, {TAX_COLUMNS}"
    " FROM menu_items m LEFT JOIN menu_categories c ON c.name = m.category"
    f"{TAX_JOIN}"
    " LEFT JOIN modifier_groups g ON g.menu_item_id = m.id LEFT JOIN modifier_options o ON o.group_id = g.id"
    " WHERE m.id IN ({})"
)
_REVISION_SQL = "SELECT revision FROM menu_revision"
# The menu cache's bound: past it, the cache starts again empty (a menu is a few hundred dishes).
MENU_CACHE_DISHES = 2_000


class MenuRow(NamedTuple):
    id: int
    name: str
    price_cents: int
    station: str
    available: bool
    allergens: str
    course: int  # its category's (migration 0011 bumps the menu's revision when one changes)
    prep_minutes: int
    prep_load: int
    # Its tax: its own rate, else its category's, else none (""); a tax rate's change bumps the
    # menu's revision (services/taxes.py), so a cached row never keeps an old rate.
    tax_name: str
    tax_milli: int


class OptionRow(NamedTuple):
    id: int
    menu_item_id: int
    group_id: int
    group_name: str
    kind: str
    min: int
    max: int
    name: str
    price_cents: int
    allergens: str
    available: bool
    takes_stock: bool  # it has a recipe delta: only then does the order's stock check read it
    # The option as a line keeps it when chosen once (`modifier_out`), made when the option is read:
    # an order copies it with its count rather than building it again.
    kept: dict[str, Any]


@dataclass(slots=True)
class Snapshot:
    """A chosen option as the line keeps it, with the columns `modifier_out` reads (not read back)."""

    option_id: int
    group_name: str
    option_name: str
    price_cents: int
    count: int
    group_kind: str
    exactly_one: bool


class Chosen(NamedTuple):
    """An option on a line and how many `times` it was chosen; `position` is its place in the item's order."""

    option: OptionRow
    times: int
    position: int


def _replay(tx: Tx, key: str, fingerprint: str) -> Order | None:
    row = tx.sql(_KEY_SQL, (key,)).fetchone()
    if row is None:
        return None
    request_hash, order_id = row
    if request_hash != fingerprint:
        raise KeyReused()
    return _load(tx.conn, order_id)


class Dish(NamedTuple):
    """A dish as orders check against it: its row, its options in the menu's order, each option's
    place in that order, and one option standing for each group (its name and limits)."""

    row: MenuRow
    options: list[OptionRow]
    places: dict[int, int]
    groups: list[OptionRow]


@dataclass(slots=True)
class MenuCache:
    """The dishes orders named, with their options, as read at menu `revision` (migration 0010's
    counter). Kept in the write path (`Tx.cache`) between orders: reading and sorting a dish's
    option rows was most of what modifiers added to an order's write. Dishes are added; a row is
    never changed: another revision gets a new cache."""

    revision: int
    dishes: dict[int, Dish]


def _read_dishes(tx: Tx, ids: list[int]) -> dict[int, Dish]:
    """Dishes as the database has them now, each with its options in the menu's order."""
    found: dict[int, MenuRow] = {}
    option_rows = []
    for row in tx.sql(_MENU_SQL.format(", ".join("?" * len(ids))), ids):
        if row[0] not in found:
            found[row[0]] = MenuRow(*row[:6], *row[19:24])
        if row[6] is not None:
            option_rows.append(row)
    options: dict[int, list[OptionRow]] = {dish_id: [] for dish_id in found}
    # In the menu's order: by group (position, id), then option (position, id).
    for row in sorted(option_rows, key=lambda r: (r[16], r[7], r[17], r[6])):
        group_id, group, kind, least, most, name, price, allergens, available = row[7:16]
        limits = (group_id, group, kind, least, most)
        kept = modifier_out(Snapshot(row[6], group, name, price, 1, kind, least >= 1 and most == 1))
        option = OptionRow(row[6], row[0], *limits, name, price, allergens, available, bool(row[18]), kept)
        options[row[0]].append(option)
    dishes = {}
    for dish_id, own in options.items():
        groups: dict[int, OptionRow] = {}
        for option in own:
            groups.setdefault(option.group_id, option)
        places = {option.id: n for n, option in enumerate(own)}
        dishes[dish_id] = Dish(found[dish_id], own, places, list(groups.values()))
    return dishes


def _ordered_menu(tx: Tx, data: OrderIn | LinesIn) -> dict[int, Dish]:
    """The dishes the order names, with their options (in the menu's order); unknown items are 422.

    From the write path's cache while the menu's revision has not moved; the revision is read first
    so that rows read after it are never older than it says."""
    revision = tx.sql(_REVISION_SQL).fetchone()[0]
    cache = tx.cache.get("menu")
    if cache is None or cache.revision != revision:
        cache = tx.cache["menu"] = MenuCache(revision, {})
    dishes: dict[int, Dish] = cache.dishes
    wanted = {line.menu_item_id for line in data.items}
    missing = sorted(wanted.difference(dishes))
    if missing:
        if len(dishes) + len(missing) > MENU_CACHE_DISHES:
            dishes.clear()
        dishes.update(_read_dishes(tx, missing))
    unknown = {
        f"items.{i}.menu_item_id": f"no menu item {line.menu_item_id}"
        for i, line in enumerate(data.items)
        if line.menu_item_id not in dishes
    }
    if unknown:
        raise Invalid("the order names items that are not on the menu", unknown)
    # (The cache's own: read, never changed.)
    return {dish_id: dishes[dish_id] for dish_id in wanted}


def _insert_modifiers(tx: Tx, rows: list[tuple[Any, ...]]) -> None:
    """Every option chosen on the order's lines, in as few statements as the parameter limits allow."""
    for start in range(0, len(rows), MODIFIER_ROWS_PER_INSERT):
        chunk = rows[start : start + MODIFIER_ROWS_PER_INSERT]
        values = ", ".join([_MODIFIER_ROW] * len(chunk))
        tx.sql(_INSERT_MODIFIERS_SQL + values, [value for row in chunk for value in row])


def _choices(data: OrderIn | LinesIn, dishes: dict[int, Dish]) -> list[list[Chosen]]:
    """Each line's chosen options in the item's order, or 422: an option of another item
    (`items.N.modifiers.M`), or a group's min/max broken (`items.N.modifiers`). Looks up only the
    chosen options (the dish's `places`): this runs in the writer for every line of every order."""
    chosen: list[list[Chosen]] = []
    problems: dict[str, str] = {}
    for i, line in enumerate(data.items):
        dish = dishes[line.menu_item_id]
        if not dish.groups and not line.modifiers:  # a dish without groups, nothing chosen
            chosen.append([])
            continue
        counts: dict[int, int] = {}
        for option_id in line.modifiers:
            counts[option_id] = counts.get(option_id, 0) + 1
        picked = []
        per_group: dict[int, int] = {}
        foreign = False
        for option_id, times in counts.items():
            n = dish.places.get(option_id)
            if n is None:
                foreign = True
                continue
            option = dish.options[n]
            picked.append(Chosen(option, times, n))
            per_group[option.group_id] = per_group.get(option.group_id, 0) + times
        if foreign:  # options that are not this item's
            for m, option_id in enumerate(line.modifiers):
                if option_id not in dish.places:
                    problems[f"items.{i}.modifiers.{m}"] = f"option {option_id} is not one of this item's options"
        picked.sort(key=_position)
        broken = [
            problem
            for group in dish.groups
            if (problem := group_problem(group.group_name, group.min, group.max, per_group.get(group.group_id, 0)))
            is not None
        ]
        if broken:
            problems[f"items.{i}.modifiers"] = "; ".join(broken)
        chosen.append(picked)
    if problems:
        raise Invalid("the order's modifiers do not fit the menu", problems)
    return chosen


def _position(choice: Chosen) -> int:
    return choice.position


def _unavailable(
    data: OrderIn | LinesIn, found: dict[int, Dish], item_ids: Iterable[int], option_ids: Iterable[int]
) -> Conflict:
    """The 409 for what cannot be had: which dishes and options (the public's too: never how much
    stock is left). `fields` names the lines and their options."""
    item_ids, option_ids = set(item_ids), set(option_ids)
    menu = {dish_id: dish.row for dish_id, dish in found.items()}
    by_id = {option.id: option for dish in found.values() for option in dish.options}
    fields: dict[str, str] = {}
    for i, line in enumerate(data.items):
        if line.menu_item_id in item_ids:
            fields[f"items.{i}.menu_item_id"] = "not available"
        for m, option_id in enumerate(line.modifiers):
            if option_id in option_ids:
                fields[f"items.{i}.modifiers.{m}"] = "not available"
    dishes = [menu[item_id] for item_id in sorted(item_ids)]
    extras = [by_id[option_id] for option_id in sorted(option_ids)]
    names = [dish.name for dish in dishes] + [f"{option.name} ({menu[option.menu_item_id].name})" for option in extras]
    listed: dict[str, Any] = {}
    if dishes:
        listed["unavailable"] = [{"id": dish.id, "name": dish.name} for dish in dishes]
    if extras:
        listed["unavailable_options"] = [
            {"id": option.id, "name": option.name, "menu_item_id": option.menu_item_id} for option in extras
        ]
    return Conflict(f"not available right now: {', '.join(names)}", fields, **listed)


def release_time(tx: Tx, pickup_at: datetime, dishes: list[MenuRow], store: Store) -> datetime:
    """When a scheduled order goes to the kitchen: `pickup_at` minus its prep time (its longest
    line's), or 422 naming `pickup_at` when that time cannot be taken (services/hours.py's rules)."""
    problem = pickup_problem(read_hours(tx.conn), pickup_at, tx.now, store.settings)
    if problem is not None:
        raise Invalid(f"the order cannot be picked up then: {problem}", {"pickup_at": problem})
    return pickup_at - timedelta(minutes=max(dish.prep_minutes for dish in dishes))


def _check_allergies(allergies: Sequence[str], confirmed: bool, allergens: list[list[str]]) -> None:
    """409 when lines contain the order's `allergies` and sending them is not `confirmed`; each
    line's message names them as every screen does (the vocabulary's labels, in its order)."""
    if confirmed:
        return
    flagged = {
        f"items.{i}": contains(set(words) & set(allergies))
        for i, words in enumerate(allergens)
        if set(words) & set(allergies)
    }
    if flagged:
        raise Conflict(
            "lines contain the customer's allergies: confirm to send the order anyway",
            flagged,
            reason=ALLERGY_CONFIRMATION_NEEDED,
        )


@dataclass(slots=True)
class Priced:
    """Lines checked against the menu and priced, not yet written: the dishes they name, each
    line's chosen options, unit price and allergens (as the column stores them)."""

    data: OrderIn | LinesIn
    found: dict[int, Dish]
    chosen: list[list[Chosen]]
    unit_prices: list[int]
    allergens: list[str]

    def bill(self, terms: Terms) -> Bill:
        """What the lines cost on their own (no discounts yet), under the order's `terms`."""
        lines = []
        for i, (unit_price, line) in enumerate(zip(self.unit_prices, self.data.items, strict=True)):
            dish = self.found[line.menu_item_id].row
            lines.append(PricedLine(i, unit_price, line.quantity, dish.tax_name, dish.tax_milli))
        return price_bill(lines, (), terms)

    @property
    def courses(self) -> list[int]:
        """Each line's course: the one it was sent with, else its dish's category's."""
        return [
            self.found[line.menu_item_id].row.course if line.course is None else line.course for line in self.data.items
        ]


def _priced(tx: Tx, data: OrderIn | LinesIn, allergies: Sequence[str], confirmed: bool) -> Priced:
    """The lines of a new order, or of lines added to one, checked and priced (the one path for
    both): 422 for what is not on the menu or breaks a group's rule, 409 for what is sold out or
    contains the order's `allergies` unless `confirmed`."""
    found = _ordered_menu(tx, data)
    menu = {dish_id: dish.row for dish_id, dish in found.items()}
    sold_out = {line.menu_item_id for line in data.items if not menu[line.menu_item_id].available}
    if sold_out:  # (before its options are checked: a dish that cannot be had at all comes first)
        raise _unavailable(data, found, sold_out, ())
    chosen = _choices(data, found)
    off = {choice.option.id for picked in chosen for choice in picked if not choice.option.available}
    if off:
        raise _unavailable(data, found, (), off)
    allergens = [
        joined(
            [*words(menu[line.menu_item_id].allergens), *(w for c in picked for w in words(c.option.allergens))],
            ALLERGENS,
        )
        for line, picked in zip(data.items, chosen, strict=True)
    ]
    _check_allergies(allergies, confirmed, [words(joined_words) for joined_words in allergens])
    unit_prices = [
        menu[line.menu_item_id].price_cents + sum(c.option.price_cents * c.times for c in picked)
        for line, picked in zip(data.items, chosen, strict=True)
    ]
    return Priced(data, found, chosen, unit_prices, allergens)


def _write_lines(
    tx: Tx, order_id: int, priced: Priced, revision: int, firing: set[int]
) -> tuple[list[dict[str, Any]], Modifiers]:
    """Insert the priced lines (added at the order's `revision`; those of a course in `firing` fired
    now, the others held) and their chosen options; returns the lines and options as order_out
    reads them, built from what was written, not read back."""
    lines = []
    modifiers: Modifiers = {}
    modifier_rows: list[tuple[Any, ...]] = []
    data = priced.data
    for line, picked, price, line_allergens, course in zip(
        data.items, priced.chosen, priced.unit_prices, priced.allergens, priced.courses, strict=True
    ):
        dish = priced.found[line.menu_item_id].row
        fired = course in firing
        values = (order_id, dish.id, dish.name, price, line.quantity, line.notes, dish.station, line_allergens)
        fired_at = tx.stored_now if fired else None
        taxed = (dish.prep_minutes, dish.tax_name, dish.tax_milli)
        line_id = tx.sql(_INSERT_LINE_SQL, (*values, revision, course, fired_at, *taxed)).fetchone()[0]
        kept = []
        for choice in picked:
            option = choice.option
            snapshot = {**option.kept, "count": choice.times}
            kept.append(snapshot)
            modifier_rows.append(
                (
                    *(line_id, option.id, option.group_name, option.name, option.price_cents, choice.times),
                    *(option.kind, snapshot["exactly_one"], choice.position),
                )
            )
        modifiers[line_id] = kept
        lines.append(
            {
                "id": line_id,
                "menu_item_id": dish.id,
                "name": dish.name,
                "unit_price_cents": price,
                "quantity": line.quantity,
                "notes": line.notes,
                "station": dish.station,
                "done_at": None,
                "allergens": line_allergens,
                "revision": revision,
                "voided_at": None,
                "void_reason": None,
                "voided_by": None,
                "course": course,
                "fired_at": tx.now if fired else None,
                "prep_minutes": dish.prep_minutes,
                "tax_name": dish.tax_name,
                "tax_milli": dish.tax_milli,
            }
        )
    _insert_modifiers(tx, modifier_rows)
    return lines, modifiers


def _take_stock(tx: Tx, order_id: int, priced: Priced, public: bool) -> None:
    """Take what the priced lines need off stock for the order: 409 if stock cannot cover it (the
    whole write is undone). A `public` order is told which dishes and options, not the stock left."""
    portions: dict[int, int] = defaultdict(int)
    taken_options: dict[int, int] = defaultdict(int)
    for line, picked in zip(priced.data.items, priced.chosen, strict=True):
        portions[line.menu_item_id] += line.quantity
        for choice in picked:
            if choice.option.takes_stock:  # (none chosen that does: stock's query for options is skipped)
                taken_options[choice.option.id] += choice.times * line.quantity
    try:
        take_for_order(tx, order_id, portions, taken_options)
    except OutOfStock as short:
        if public:
            raise _unavailable(priced.data, priced.found, short.menu_item_ids, short.option_ids) from None
        raise


async def create_order(
    store: Store, data: OrderIn, idempotency_key: str | None = None, *, public: bool = False
) -> tuple[Order, bool]:
    """Create an order; returns (order, replayed). A known key with the same body replays.

    `idempotency_key` is the key as stored, already scoped to its caller (forkflow/idempotency.py).
    A `public` order that stock cannot cover is refused naming its dishes, not the stock left; one
    placed while online ordering is paused, or whose pickup slot is full, is refused (409: the
    rules are services/online.py's). Every order is counted in its slot."""
    fingerprint = request_fingerprint(data)

    def unit(tx: Tx) -> tuple[Order, bool]:
        if idempotency_key is not None:
            # Checked inside the write: a twin request committed before this one is found here.
            replayed = _replay(tx, idempotency_key, fingerprint)
            if replayed is not None:
                return replayed, True
        pace = online.for_order(tx, public, store.settings)  # 409 for the public while paused
        priced = _priced(tx, data, data.allergies, data.allergies_confirmed)
        dishes = [priced.found[line.menu_item_id].row for line in data.items]
        pickup_at = release_at = released_at = None
        if data.pickup_at is not None:
            # Checked before it is converted: year 1 at UTC+00:04 has no UTC (the check says it has passed).
            release_at = release_time(tx, data.pickup_at, dishes, store).astimezone(UTC)
            pickup_at = data.pickup_at.astimezone(UTC)
            released_at = tx.now if release_at <= tx.now else None  # due already: the kitchen has it now
        slot = online.order_slot(tx.now, pickup_at, max(dish.prep_minutes for dish in dishes), pace)
        load = sum(dish.prep_load * line.quantity for dish, line in zip(dishes, data.items, strict=True))
        if public:
            if pickup_at is not None:
                online.check_lead(tx, pickup_at, pace, store.settings)  # 422 sooner than the busy delay
            online.take_room(tx, slot, load, pace, store.settings)  # 409 when the slot is full
        day = business_date(tx.now, store.settings)
        ticket_no = tx.sql(_NEXT_TICKET_SQL, (day,)).fetchone()[0]
        terms = money_settings_in(tx).terms_for(data.channel, data.guests)
        bill = priced.bill(terms)
        now = tx.stored_now
        firing = fired_at_send(priced.courses, data.channel)
        row = {
            "business_date": day,
            "ticket_no": ticket_no,
            "customer_name": data.customer_name,
            "channel": data.channel,
            "table_label": data.table,
            "notes": data.notes,
            "status": "new",
            "created_at": tx.now,
            "updated_at": tx.now,
            "ready_at": None,
            "completed_at": None,
            "tracking_token": secrets.token_urlsafe(24),
            "allergies": joined(data.allergies, ALLERGENS),
            "allergies_acknowledged_at": None,
            "allergies_acknowledged_by": None,
            "revision": FIRST_REVISION,
            "rush": False,
            "pickup_at": pickup_at,
            "release_at": release_at,
            "released_at": released_at,
            "guests": data.guests,
            "prices_include_tax": terms.prices_include_tax,
            "tax_rounding": terms.tax_rounding,
            "service_charge_milli": terms.service_charge_milli,
            **figures(bill),
        }
        order_values = (day, ticket_no, data.customer_name, data.channel, data.table, data.notes, bill.total_cents)
        times = (tx.stored(pickup_at), tx.stored(release_at), tx.stored(released_at), tx.stored(slot), load)
        priced_as = (data.guests, *astuple(terms), bill.subtotal_cents, 0, bill.tax_cents, bill.service_charge_cents)
        order_sql_values = (
            *(*order_values, now, now, row["tracking_token"], row["allergies"], FIRST_REVISION, *times),
            *priced_as,
        )
        row["id"] = tx.sql(_INSERT_ORDER_SQL, order_sql_values).fetchone()[0]
        lines, modifiers = _write_lines(tx, row["id"], priced, FIRST_REVISION, firing)
        if idempotency_key is not None:
            tx.sql(_INSERT_KEY_SQL, (idempotency_key, fingerprint, row["id"], now))
        # Built from what was just written, not read back: the same shape as order_out of the rows.
        order = order_out(SimpleNamespace(**row), [SimpleNamespace(**line) for line in lines], modifiers)
        created = tx.emit("order.created", order)
        record_sends(tx, order, created, "new")  # (none while it is held for later)
        _take_stock(tx, row["id"], priced, public)  # 409 if stock cannot cover it: nothing written
        return Encoded(order, created.data), False

    return await store.write(unit)


# Changes after sending: lines added to, or voided on, an order the kitchen already has. Each is
# one write with its `order.updated` event; the order's revision counts them.


def lines_fingerprint(order_id: int, data: LinesIn) -> str:
    """The same lines for the same order, the same fingerprint; never an order's (`request_fingerprint`),
    so a key sent once to `POST /orders` and again to add lines is a key reused."""
    return hashlib.sha256(f"lines\0{order_id}\0{data.model_dump_json()}".encode()).hexdigest()


def _amendable(order: Order, change: str) -> None:
    """409 unless the order is still cooking (new or preparing): a ready, completed or cancelled
    order's lines no longer change."""
    if order["status"] not in COOKING_STATUSES:
        raise Conflict(
            f"order {order['id']} is {order['status']}: {change} only while it is {spoken(COOKING_STATUSES)}",
            {"status": order["status"]},
            reason="order_not_open",
        )


def _amended(tx: Tx, order_id: int, revision: int, reason: str) -> Order:
    """Record a change after sending: the order's new `revision`, its figures again from its lines
    (services/bill.py), its `order.updated` event, and what reached each station (`reason`: added, void)."""
    tx.conn.execute(update(orders).where(orders.c.id == order_id).values(revision=revision, updated_at=tx.now))
    reprice(tx, order_id)  # (and a line added to a paid order reopens its balance)
    order = _load(tx.conn, order_id)
    event = tx.emit("order.updated", order)
    record_sends(tx, order, event, reason)
    return Encoded(order, event.data)


async def add_lines(
    store: Store, order_id: int, data: LinesIn, idempotency_key: str | None = None
) -> tuple[Order, bool]:
    """Add lines to an order not yet ready, checked, priced and taken from stock as a new order's
    lines are; returns (order, replayed). The lines carry the order's next revision."""
    fingerprint = lines_fingerprint(order_id, data)

    def unit(tx: Tx) -> tuple[Order, bool]:
        if idempotency_key is not None:
            replayed = _replay(tx, idempotency_key, fingerprint)
            if replayed is not None:
                return replayed, True
        current = _load(tx.conn, order_id)
        _amendable(current, "lines can be added")
        priced = _priced(tx, data, current["allergies"], data.allergies_confirmed)
        firing = fired_when_added(priced.courses, current["held_courses"], current["channel"])
        _write_lines(tx, order_id, priced, current["revision"] + 1, firing)
        if idempotency_key is not None:
            tx.sql(_INSERT_KEY_SQL, (idempotency_key, fingerprint, order_id, tx.stored_now))
        order = _amended(tx, order_id, current["revision"] + 1, "added")
        _take_stock(tx, order_id, priced, public=False)
        return order, False

    return await store.write(unit)


async def void_line(store: Store, order_id: int, line_id: int, reason: str, by: str) -> Order:
    """Void one line of an order not yet ready: kept on the order, struck through for the kitchen,
    no longer cooked, counted or charged. On a `new` order its stock goes back (nothing was cooked);
    on a started one it does not (the food may be made: it is waste)."""

    def unit(tx: Tx) -> Order:
        current = _load(tx.conn, order_id)
        line = _voidable(current, line_id)
        _amendable(current, "lines can be voided")
        if not any(other["voided_at"] is None for other in current["lines"] if other["id"] != line_id):
            raise Conflict(
                f"line {line_id} is the order's last: cancel the order instead",
                {"line_id": "the last line not voided"},
                reason="last_line",
            )
        if line_is_paid(tx.conn, current, line):
            raise Conflict(
                f"line {line_id} is paid: refund it (POST /orders/{order_id}/refunds with line_id), which voids it",
                {"line_id": "paid"},
                reason="refund_needed",
            )
        _void(tx, current, line, reason, by)
        return _amended(tx, order_id, current["revision"] + 1, "void")

    return await store.write(unit)


def _voidable(order: Order, line_id: int) -> dict[str, Any]:
    """The order's line `line_id`, not voided yet (else 404, 409)."""
    line: dict[str, Any] | None = next((line for line in order["lines"] if line["id"] == line_id), None)
    if line is None:
        raise NotFound(f"order {order['id']} has no line {line_id}")
    if line["voided_at"] is not None:
        raise Conflict(f"line {line_id} is already voided", {"line_id": "already voided"}, reason="already_voided")
    return line


def line_is_paid(conn: Connection, order: Order, line: dict[str, Any]) -> bool:
    """Whether voiding `line` would take back money already paid: it was paid by item, or the
    payments already cover more than the bill would owe without it (the balance would go below 0)."""
    if not order["payments"]:
        return False
    paid_by_item = any(line["id"] in (payment["line_ids"] or ()) for payment in order["payments"])
    return paid_by_item or order["balance_cents"] < lines_owe(conn, order["id"], (line["id"],))


def _void(tx: Tx, current: Order, line: dict[str, Any], reason: str, by: str) -> None:
    values = {"voided_at": tx.now, "void_reason": reason, "voided_by": by}
    tx.conn.execute(update(order_lines).where(order_lines.c.id == line["id"]).values(values))
    if current["status"] == "new":
        options = {m["option_id"]: m["count"] for m in line["modifiers"] if m["option_id"] is not None}
        return_for_line(tx, current["id"], line["menu_item_id"], line["quantity"], options)


def void_paid_line(tx: Tx, current: Order, line_id: int, reason: str, by: str) -> int:
    """The void a refund of a paid line makes (services/refunds.py), in the refund's write: what
    the line took off the bill (the total before less after). Unlike `void_line` it may void a
    served order's line, or its last: money decides here, not the kitchen. The caller settles the
    order and emits its event. 409 for a line that was not paid (void it instead)."""
    line = _voidable(current, line_id)
    if not line_is_paid(tx.conn, current, line):
        raise Conflict(f"line {line_id} is not paid: void it instead", {"line_id": "not paid"}, reason="line_not_paid")
    _void(tx, current, line, reason, by)
    values = {"revision": current["revision"] + 1, "updated_at": tx.now}
    tx.conn.execute(update(orders).where(orders.c.id == current["id"]).values(values))
    return int(current["total_cents"]) - reprice(tx, current["id"]).total_cents


def _move(tx: Tx, current: Order, status: str) -> Order:
    """Move an order, read inside the write transaction, to `status`, and emit `order.updated`."""
    order_id = current["id"]
    allowed = TRANSITIONS[current["status"]]
    if current["status"] == "completed" and tx.now - datetime.fromisoformat(current["completed_at"]) > RECALL_WINDOW:
        allowed = ()
    if status not in allowed:
        raise Conflict(
            f"order {order_id} is {current['status']}; it cannot move to {status}",
            {"status": f"allowed from {current['status']}: {', '.join(allowed) or 'none'}"},
            allowed=list(allowed),
        )
    if status == "preparing" and current["status"] == "new" and not _acknowledged(current):
        raise Conflict(
            f"ticket {current['ticket_no']} has allergies ({', '.join(current['allergies'])}): "
            "acknowledge them before starting it",
            {"allergies": "not acknowledged"},
            reason="allergies_not_acknowledged",
        )
    held = held_courses(current["lines"])
    if status == "ready" and held:
        raise Conflict(
            f"ticket {current['ticket_no']} has course {held[0]} held: fire it before the order can be ready",
            {"status": f"held courses: {', '.join(map(str, held))}"},
            reason="courses_held",
            held_courses=held,
        )
    values: dict[str, Any] = {"status": status, "updated_at": tx.now}
    if status == "ready":
        values["ready_at"] = tx.now
    if status == "completed":
        values["completed_at"] = tx.now
    tx.conn.execute(update(orders).where(orders.c.id == order_id).values(values))
    if status == "cancelled" and current["status"] == "new":
        return_for_order(tx, order_id)  # nothing was cooked yet: its stock goes back on the shelf
    order = _load(tx.conn, order_id)
    return Encoded(order, tx.emit("order.updated", order).data)


def live_lines(order: Order) -> list[dict[str, Any]]:
    """The order's lines that are cooked and charged: all but the voided ones."""
    return [line for line in order["lines"] if line["voided_at"] is None]


def _acknowledged(order: Order) -> bool:
    """Whether the kitchen may start the ticket: it has no allergies, or they were acknowledged."""
    return not order["allergies"] or order["allergies_acknowledged_at"] is not None


async def acknowledge_allergies(store: Store, order_id: int, by: str) -> Order:
    """The kitchen has seen the order's allergies: `by` and now are recorded once (a second
    acknowledgement keeps the first), and the ticket may start."""

    def unit(tx: Tx) -> Order:
        current = _load(tx.conn, order_id)
        if not current["allergies"]:
            raise Conflict(f"order {order_id} has no allergies to acknowledge")
        if current["allergies_acknowledged_at"] is not None:
            return current
        values = {"allergies_acknowledged_at": tx.now, "allergies_acknowledged_by": by, "updated_at": tx.now}
        tx.conn.execute(update(orders).where(orders.c.id == order_id).values(values))
        order = _load(tx.conn, order_id)
        return Encoded(order, tx.emit("order.updated", order).data)

    return await store.write(unit)


async def change_status(store: Store, order_id: int, status: str) -> Order:
    def unit(tx: Tx) -> Order:
        return _move(tx, _load(tx.conn, order_id), status)

    return await store.write(unit)


async def recall_last(store: Store) -> Order:
    """Bring back the most recently completed order, if that was within the recall window."""

    def unit(tx: Tx) -> Order:
        query = (
            select(orders.c.id)
            .where(orders.c.status == "completed", orders.c.completed_at >= tx.now - RECALL_WINDOW)
            .order_by(orders.c.completed_at.desc(), orders.c.id.desc())
            .limit(1)
        )
        row = tx.conn.execute(query).first()
        if row is None:
            raise NotFound("nothing was bumped in the last 10 minutes")
        return _move(tx, _load(tx.conn, row.id), "ready")

    return await store.write(unit)


def _mark_done(tx: Tx, current: Order, done: bool, line_id: int | None = None, station: str | None = None) -> Order:
    order_id = current["id"]
    if current["status"] not in ACTIVE_STATUSES:
        raise Conflict(f"order {order_id} is {current['status']}; its lines can no longer change")
    lines = current["lines"]
    if line_id is not None:
        lines = [line for line in lines if line["id"] == line_id]
        if not lines:
            raise NotFound(f"order {order_id} has no line {line_id}")
        if lines[0]["voided_at"] is not None:
            raise Conflict(f"line {line_id} is voided: it is not cooked", {"line_id": "voided"})
        if lines[0]["fired_at"] is None:
            raise Conflict(f"course {lines[0]['course']} of order {order_id} is held: fire it first", reason="held")
    if station is not None:
        # Its voided lines too: a station's Done says its cook has seen the void (the ticket stays
        # on the station, VOID shown, until then, so that nobody keeps cooking a voided dish).
        lines = [line for line in lines if line["station"] == station]
    else:
        lines = [line for line in lines if line["voided_at"] is None]  # a voided line is not cooked
    lines = [line for line in lines if line["fired_at"] is not None]  # held lines cannot be bumped
    changing = [line for line in lines if (line["done_at"] is not None) != done]
    if not changing:
        return current
    ids = [line["id"] for line in changing]
    tx.conn.execute(update(order_lines).where(order_lines.c.id.in_(ids)).values(done_at=tx.now if done else None))
    tx.conn.execute(update(orders).where(orders.c.id == order_id).values(updated_at=tx.now))
    order = loaded = _load(tx.conn, order_id)
    if done and order["held_courses"] and auto_fire(tx.conn):
        order = _fire_after(tx, order, {line["course"] for line in changing})
    event = tx.emit("order.updated", order)
    if order is not loaded:  # a course auto-fired: it reaches its stations
        record_sends(tx, order, event, "fired")
    return Encoded(order, event.data)


def _fire_after(tx: Tx, order: Order, bumped: set[int]) -> Order:
    """Auto-fire: each course whose last line was just bumped fires the next course present, if held."""
    held = set(order["held_courses"])
    firing: set[int] = set()
    for course in bumped:
        if all(line["done_at"] is not None for line in order["lines"] if line["course"] == course):
            following = next_course(order["lines"], course)
            if following is not None and following in held:
                firing.add(following)
    if not firing:
        return order
    for course in sorted(firing):
        fire_lines(tx, order["id"], course)
    return _load(tx.conn, order["id"])


async def fire_course(store: Store, order_id: int, course: int, idempotency_key: str | None = None) -> Order:
    """Fire a held course of an order: its lines go to their stations now (`order.updated`).
    With `idempotency_key` (stored, scoped), a retry of the same fire answers the order again and
    writes nothing; a course already fired otherwise is 409, as is one the order does not have."""

    def unit(tx: Tx) -> Order:
        current = _load(tx.conn, order_id)
        if idempotency_key is not None and replayed_fire(tx, idempotency_key, order_id, course):
            return current
        check_fire(current, course)
        fire_lines(tx, order_id, course)
        if idempotency_key is not None:
            remember_fire(tx, idempotency_key, order_id, course)
        order = _load(tx.conn, order_id)
        event = tx.emit("order.updated", order)
        record_sends(tx, order, event, "fired")
        return Encoded(order, event.data)

    return await store.write(unit)


async def change_order(store: Store, order_id: int, status: str | None = None, rush: bool | None = None) -> Order:
    """`PATCH /orders/{id}`: set the rush flag and/or move the status, in one write and one event.
    A rush flag already as asked changes nothing (and, with no status, emits nothing)."""

    def unit(tx: Tx) -> Order:
        current = _load(tx.conn, order_id)
        if rush is not None and rush != current["rush"]:
            if current["status"] not in ACTIVE_STATUSES:
                raise Conflict(f"order {order_id} is {current['status']}: it is off the rail", {"rush": "not active"})
            values = {"rush": rush, "updated_at": tx.now}
            tx.conn.execute(update(orders).where(orders.c.id == order_id).values(values))
            current = _load(tx.conn, order_id)
            if status is None:
                return Encoded(current, tx.emit("order.updated", current).data)
        if status is None:
            return current
        return _move(tx, current, status)

    return await store.write(unit)


async def mark_lines_done(store: Store, order_id: int, done: bool, line_id: int | None = None) -> Order:
    """Mark one line (`line_id`), or all of them, done or not done."""

    def unit(tx: Tx) -> Order:
        return _mark_done(tx, _load(tx.conn, order_id), done, line_id=line_id)

    return await store.write(unit)


async def bump(
    store: Store, order_id: int, seen_status: str, station: str | None = None, lines_first: bool = False
) -> Order:
    """One tap on a kitchen ticket. It starts a new order; on a station's display it marks that
    station's lines done; otherwise it moves the order along (preparing -> ready -> completed).
    With `lines_first` (expo), ready needs every line done. `seen_status` is the status the cook
    saw: if another screen moved the order meanwhile, the tap is refused rather than applied twice."""

    def unit(tx: Tx) -> Order:
        current = _load(tx.conn, order_id)
        status = current["status"]
        if status != seen_status:
            raise Conflict(f"ticket {current['ticket_no']} is already {status}", current_status=status)
        if status == "new":
            return _move(tx, current, "preparing")
        if station is not None:
            return _mark_done(tx, current, True, station=station)
        if status == "preparing":
            waiting = sorted(
                {line["station"] or "" for line in live_lines(current) if line["fired_at"] and line["done_at"] is None}
            )
            if lines_first and waiting:
                raise Conflict(f"ticket {current['ticket_no']} is waiting on {', '.join(waiting)}", waiting=waiting)
            return _move(tx, current, "ready")
        return _move(tx, current, "completed")

    return await store.write(unit)


def _tracked(conn: Connection, tracking_token: str) -> Order:
    row = conn.execute(select(orders.c.id).where(orders.c.tracking_token == tracking_token)).first()
    if row is None:
        raise NotFound("no order has this tracking link")
    return _load(conn, row.id)


async def get_tracked_order(store: Store, tracking_token: str) -> Order:
    return await store.query(_tracked, tracking_token)


async def tracked_snapshot(store: Store, tracking_token: str) -> tuple[int, Order]:
    """The order behind a tracking link and the id of the last event it reflects, read at one moment."""
    async with store.snapshot() as conn:
        head = await store.last_event_id(conn)
        return head, await conn.run_sync(_tracked, tracking_token)


async def get_order(store: Store, order_id: int) -> Order:
    return await store.query(_load, order_id)


def _matching(conn: Connection, query: Select[Any]) -> list[Order]:
    return _orders_out(conn, list(conn.execute(query)))


async def list_orders(store: Store, status: str | None = None, limit: int = 100) -> list[Order]:
    """The most recent orders first."""
    query = select(orders).order_by(orders.c.id.desc()).limit(limit)
    if status is not None:
        query = query.where(orders.c.status == status)
    return await store.query(_matching, query)


# On the kitchen: never held (ASAP) or released. A scheduled order waits for services/releases.py.
ON_KITCHEN = or_(orders.c.release_at.is_(None), orders.c.released_at.is_not(None))
_ACTIVE_QUERY = select(orders).where(orders.c.status.in_(ACTIVE_STATUSES), ON_KITCHEN).order_by(orders.c.id)


async def kitchen_orders(store: Store) -> list[Order]:
    """Every order still on the line (not completed or cancelled, nor held for later), oldest first."""
    return await store.query(_matching, _ACTIVE_QUERY)


async def kitchen_snapshot(store: Store) -> tuple[int, list[Order]]:
    """The active orders and the id of the last event they reflect, read at one moment."""
    async with store.snapshot() as conn:
        head = await store.last_event_id(conn)
        return head, await conn.run_sync(_matching, _ACTIVE_QUERY)


# The all-day panel: the waiting lines (fired, not done or voided, on orders the kitchen has and is
# still cooking) in the menu's order, and the options of their "choice" groups (Doneness, Size) to
# break each item's count down by. Held lines (not fired) and held orders (scheduled, not released)
# are not waiting yet: no station cooks them until their course is fired or the order released.
_COOKING = (
    orders.c.status.in_(COOKING_STATUSES),
    ON_KITCHEN,
    order_lines.c.done_at.is_(None),
    order_lines.c.voided_at.is_(None),
    order_lines.c.fired_at.is_not(None),
)
# Counted by the database (grouped by station and item, in the menu's order), so a read costs
# about one row per item and option, however many lines are waiting.
_WAITING_ITEMS = (
    select(order_lines.c.station, order_lines.c.name, func.sum(order_lines.c.quantity).label("portions"))
    .select_from(order_lines.join(orders).join(menu_items).outerjoin(menu_categories, IN_CATEGORY))
    .where(*_COOKING)
    .group_by(order_lines.c.station, *MENU_ORDER, order_lines.c.name)
    .order_by(*MENU_ORDER, order_lines.c.name)
)
_LINE_NAMED = (order_lines.c.id, order_lines.c.station, order_lines.c.name)
_CHOICE_LINES = order_line_modifiers.join(order_lines).join(orders)
_IS_CHOICE = order_line_modifiers.c.group_kind == "choice"
_WAITING_CHOICES = (  # portions per option (an option chosen twice on a line counts twice)
    select(
        order_lines.c.station,
        order_lines.c.name,
        order_line_modifiers.c.group_name,
        order_line_modifiers.c.position,
        order_line_modifiers.c.option_name,
        func.sum(order_lines.c.quantity).label("portions"),
    )
    .select_from(_CHOICE_LINES)
    .where(*_COOKING, _IS_CHOICE)
    .group_by(
        order_lines.c.station,
        order_lines.c.name,
        order_line_modifiers.c.group_name,
        order_line_modifiers.c.position,
        order_line_modifiers.c.option_name,
    )
)
_lines_choosing = (
    select(
        order_lines.c.id,
        order_lines.c.station,
        order_lines.c.name,
        order_lines.c.quantity,
        order_line_modifiers.c.group_name,
    )
    .distinct()
    .select_from(_CHOICE_LINES)
    .where(*_COOKING, _IS_CHOICE)
    .subquery()
)
_WAITING_CHOSEN = (  # portions whose line chose something from the group
    select(
        _lines_choosing.c.station,
        _lines_choosing.c.name,
        _lines_choosing.c.group_name,
        func.sum(_lines_choosing.c.quantity).label("portions"),
    ).group_by(_lines_choosing.c.station, _lines_choosing.c.name, _lines_choosing.c.group_name)
)


@dataclass(frozen=True)
class ChoiceCount:
    """One choice group of an all-day item: portions per option, in the menu's option order, and
    the portions whose line chose nothing from it (an optional group)."""

    group: str
    options: list[tuple[str, int]]
    no_choice: int


@dataclass(frozen=True)
class AllDay:
    """An item on the all-day panel: portions waiting, broken down by its choice groups' options."""

    name: str
    count: int
    choices: list[ChoiceCount]


# Every station's all-day count (and the all-stations view's, under None), from one read: the
# displays' streams share it (live.SharedRead), so fifty displays on six views cost one read per
# burst, not one per view.
AllDayByStation = dict[str | None, list[AllDay]]


def _waiting(conn: Connection) -> AllDayByStation:
    # Each row counts for its station and for all stations (None).
    totals: dict[str | None, dict[str, int]] = defaultdict(dict)  # item name -> portions, in the menu's order
    options: dict[str | None, dict[str, dict[str, dict[tuple[int, str], int]]]] = defaultdict(dict)
    covered: dict[str | None, dict[str, dict[str, int]]] = defaultdict(dict)
    for item in conn.execute(_WAITING_ITEMS):
        for station in (item.station, None):
            totals[station][item.name] = totals[station].get(item.name, 0) + item.portions
    for option in conn.execute(_WAITING_CHOICES):
        for station in (option.station, None):
            counts = options[station].setdefault(option.name, {}).setdefault(option.group_name, {})
            key = (option.position, option.option_name)
            counts[key] = counts.get(key, 0) + option.portions
    for group in conn.execute(_WAITING_CHOSEN):
        for station in (group.station, None):
            chose = covered[station].setdefault(group.name, {})
            chose[group.group_name] = chose.get(group.group_name, 0) + group.portions
    return {station: _all_day(found, options[station], covered[station]) for station, found in totals.items()}


def _all_day(
    totals: dict[str, int],
    options: dict[str, dict[str, dict[tuple[int, str], int]]],
    covered: dict[str, dict[str, int]],
) -> list[AllDay]:
    found = []
    for name, total in totals.items():
        groups = sorted(options.get(name, {}).items(), key=lambda group: min(group[1]))  # by the menu's option order
        breakdown = [
            ChoiceCount(group, [(option, n) for (_, option), n in sorted(counts.items())], total - covered[name][group])
            for group, counts in groups
        ]
        found.append(AllDay(name, total, breakdown))
    return found


async def waiting_by_station(store: Store) -> AllDayByStation:
    """The all-day count of every station that has lines waiting, and of all stations (None)."""
    return await store.query(_waiting)


async def waiting_counts(store: Store, station: str | None = None) -> list[AllDay]:
    """The all-day count, in the menu's order: per item, how many are waiting (not done) on orders
    not yet ready, and of those how many of each choice (Doneness: 4 Medium-rare, 3 Medium)."""
    return (await waiting_by_station(store)).get(station, [])

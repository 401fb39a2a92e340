"""The tables. Alembic migrations create them; this module is what the code queries.

A column holding one of a closed list of words has a CHECK constraint built from forkflow/vocabulary.py.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.expression import false, text

from .numbers import DEFAULT_PREP_LOAD, DEFAULT_PREP_MINUTES, MAX_PREP_LOAD, MAX_PREP_MINUTES
from .vocabulary import (
    CHANNELS,
    DISCOUNT_KINDS,
    DRAWER_MOVEMENT_KINDS,
    MODIFIER_KINDS,
    MOVEMENT_KINDS,
    ORDER_STATUSES,
    PRINT_KINDS,
    PRINT_STATUSES,
    PRINTER_ROLES,
    ROLES,
    SEND_REASONS,
    SIGN_IN_OUTCOMES,
    TAX_ROUNDINGS,
    TENDERS,
)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC, gives back aware UTC datetimes on every backend (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def stored_timestamp(moment: datetime) -> str:
    """A UTC moment exactly as SQLAlchemy stores a UTCDateTime in SQLite, for plain SQL."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

menu_items = Table(
    "menu_items",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(80), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("price_cents", Integer, nullable=False),
    Column("category", String(40), nullable=False),
    Column("station", String(40), nullable=False),
    # Whether the item can be ordered now: not switched off by a manager, and stock covers one
    # portion of its recipe. Kept up to date in the same transaction as whatever changes either.
    Column("available", Boolean, nullable=False, default=True),
    # A manager's 86: stays off through any restock until a manager switches the item on again.
    Column("switched_off", Boolean, nullable=False, default=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # Its place within its category (then by name); the categories' own order is menu_categories.
    Column("position", Integer, nullable=False, default=0, server_default="0"),
    # Words of vocabulary.ALLERGENS and DIETARY, comma-separated in the vocabulary's order ("" for none);
    # services/representation.py's `words`/`joined` are the only readers and writers.
    Column("allergens", String(200), nullable=False, default="", server_default=""),
    Column("dietary", String(40), nullable=False, default="", server_default=""),
    # Minutes from starting it to its being ready (an order's prep time is its longest line's), and
    # the kitchen load one portion puts on its slot (for capacity). Migration 0012.
    Column("prep_minutes", Integer, nullable=False, default=DEFAULT_PREP_MINUTES, server_default="10"),
    Column("prep_load", Integer, nullable=False, default=DEFAULT_PREP_LOAD, server_default="1"),
    # Its own tax rate (tax_rates.id), overriding its category's (migration 0017); NULL: the
    # category's. No foreign key (see the migration): removing a rate clears it in the same write.
    Column("tax_rate_id", Integer),
    CheckConstraint("price_cents >= 0", name="price_not_negative"),
    CheckConstraint(f"prep_minutes BETWEEN 0 AND {MAX_PREP_MINUTES}", name="prep_minutes_in_range"),
    CheckConstraint(f"prep_load BETWEEN 0 AND {MAX_PREP_LOAD}", name="prep_load_in_range"),
)

# The menu's categories in the order every screen shows them. A row exists exactly while an item
# is in that category: services/menu.py adds and removes them with the items' writes.
menu_categories = Table(
    "menu_categories",
    metadata,
    Column("name", String(40), primary_key=True),
    Column("position", Integer, nullable=False),
    # The course its dishes go in unless a line says otherwise (migration 0011; see services/courses.py).
    Column("course", Integer, nullable=False, default=1, server_default="1"),
    # The tax rate of its dishes unless an item names its own (migration 0017); NULL: untaxed.
    Column("tax_rate_id", Integer),
)

# An item's modifier groups ("Doneness", "Add-ons") and their options; both in `position` order.
# Options are deleted when left out of a PUT: orders keep their own snapshot of what was chosen.
modifier_groups = Table(
    "modifier_groups",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("menu_item_id", ForeignKey("menu_items.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("name", String(80), nullable=False),
    Column("position", Integer, nullable=False),
    # How many options a line must and may carry from this group (an option may repeat).
    Column("min_choices", Integer, nullable=False),
    Column("max_choices", Integer, nullable=False),
    # vocabulary.MODIFIER_KINDS: how the kitchen reads the group's options (a choice, ADD, NO).
    Column("kind", String(10), nullable=False, default="choice", server_default="choice"),
    CheckConstraint("min_choices >= 0 AND max_choices >= 1 AND min_choices <= max_choices", name="choices_valid"),
    CheckConstraint(f"kind IN {MODIFIER_KINDS!r}", name="kind_known"),
)

modifier_options = Table(
    "modifier_options",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("group_id", ForeignKey("modifier_groups.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("name", String(80), nullable=False),
    Column("position", Integer, nullable=False),
    Column("price_cents", Integer, nullable=False),
    Column("allergens", String(200), nullable=False, default=""),  # added to the item's, like menu_items'
    # As menu_items: `available` is not switched off and stock covers the option's recipe.
    Column("available", Boolean, nullable=False, default=True),
    Column("switched_off", Boolean, nullable=False, default=False),
    CheckConstraint("price_cents >= 0", name="price_not_negative"),
)

# One row, (1, n): bumped by triggers (migration 0010) at every change to menu_items,
# modifier_groups, modifier_options or option_recipe_lines, whoever makes it; the order writer's menu
# cache is good while it has not moved.
menu_revision = Table(
    "menu_revision",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("revision", BigInteger, nullable=False),
)

# What choosing an option changes in stock, per portion: positive takes more ("add bacon"),
# negative takes less of the item's own recipe ("no cheese" gives 0.03 kg back).
option_recipe_lines = Table(
    "option_recipe_lines",
    metadata,
    Column("option_id", ForeignKey("modifier_options.id", ondelete="CASCADE"), primary_key=True),
    Column("inventory_id", ForeignKey("inventory.id"), primary_key=True, index=True),
    Column("quantity_milli", BigInteger, nullable=False),
    CheckConstraint("quantity_milli <> 0", name="quantity_not_zero"),
)

orders = Table(
    "orders",
    metadata,
    Column("id", Integer, primary_key=True),
    # The business day (local, starting at FORKFLOW_DAY_STARTS_AT) the ticket number counts in.
    Column("business_date", String(10), nullable=False),
    Column("ticket_no", Integer, nullable=False),
    Column("customer_name", String(80), nullable=False),
    Column("channel", String(10), nullable=False),
    Column("table_label", String(20)),
    Column("notes", Text, nullable=False, default=""),
    Column("status", String(10), nullable=False, default="new"),
    Column("total_cents", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # The customer's key to their own order: /track/{tracking_token}. Unguessable, unlike the id.
    # When it last became ready, and when it was completed: prep times and the 10-minute recall.
    Column("ready_at", UTCDateTime),
    Column("completed_at", UTCDateTime),
    # (Nullable only in the database: adding NOT NULL would rebuild the table; the code always sets it.)
    Column("tracking_token", String(64), nullable=True),
    # The customer's allergies (vocabulary.ALLERGENS, as menu_items.allergens), and who in the
    # kitchen acknowledged them and when: a ticket with allergies cannot start before that.
    Column("allergies", String(200), nullable=False, default="", server_default=""),
    Column("allergies_acknowledged_at", UTCDateTime),
    Column("allergies_acknowledged_by", String(40)),
    # 1 when placed; one more at each change after sending (lines added or voided: migration 0013).
    Column("revision", Integer, nullable=False, default=1, server_default="1"),
    # Staff marked it rush: the kitchen display puts it first, with a badge.
    Column("rush", Boolean, nullable=False, default=False, server_default=false()),
    # A scheduled order (migration 0012): the pickup time asked for, and when the kitchen gets it
    # (`pickup_at` minus the order's prep time). Until `released_at` is set it is held: on no
    # kitchen display and in no all-day count. An ASAP order has neither (NULL: never held).
    Column("pickup_at", UTCDateTime, index=True),
    Column("release_at", UTCDateTime, index=True),
    Column("released_at", UTCDateTime),
    # The 15-minute pickup slot it is counted in, and its kitchen load (its lines' prep_load ×
    # quantity), both fixed when placed (migration 0014, services/online.py); NULL on older orders.
    Column("slot_at", UTCDateTime, index=True),
    Column("kitchen_load", Integer),
    # Money (migration 0017, forkflow/money/): the guests at a table (service charge, even splits);
    # how its prices were taxed and rounded and its service charge rate, fixed when placed so a
    # later change of settings never reprices it; its figures, written with every change to its
    # lines, discounts or payments (`total_cents` is what is owed, tips excluded); and when its
    # balance reached zero (closed). Older orders: untaxed, no service charge, subtotal = total.
    Column("guests", Integer),
    Column("prices_include_tax", Boolean, nullable=False, default=False, server_default=false()),
    Column("tax_rounding", String(5), nullable=False, default="line", server_default="line"),
    Column("service_charge_milli", Integer, nullable=False, default=0, server_default="0"),
    Column("subtotal_cents", Integer, nullable=False, default=0, server_default="0"),
    Column("discount_cents", Integer, nullable=False, default=0, server_default="0"),
    Column("tax_cents", Integer, nullable=False, default=0, server_default="0"),
    Column("service_charge_cents", Integer, nullable=False, default=0, server_default="0"),
    Column("paid_cents", Integer, nullable=False, default=0, server_default="0"),
    Column("closed_at", UTCDateTime),
    UniqueConstraint("business_date", "ticket_no"),
    CheckConstraint(f"channel IN {CHANNELS!r}", name="channel_known"),
    CheckConstraint(f"status IN {ORDER_STATUSES!r}", name="status_known"),
    Index(None, "status", "id"),
    Index("uq_orders_tracking_token", "tracking_token", unique=True),
)

order_lines = Table(
    "order_lines",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("order_id", ForeignKey("orders.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("menu_item_id", ForeignKey("menu_items.id"), nullable=False),
    Column("name", String(80), nullable=False),
    Column("unit_price_cents", Integer, nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("notes", Text, nullable=False, default=""),
    # The station that cooks it, as it was when ordered (like name and price).
    Column("station", String(40)),
    # Set when a cook marks the line done on the kitchen display.
    Column("done_at", UTCDateTime),
    # The item's allergens plus its chosen options', as when ordered (words, as menu_items.allergens).
    Column("allergens", String(200), nullable=False, default="", server_default=""),
    # The order's revision that added the line (1: sent with the order), and, once voided, when,
    # why and by whom. A voided line stays on the order (the kitchen shows it struck through) but
    # is no longer cooked, counted or charged.
    Column("revision", Integer, nullable=False, default=1, server_default="1"),
    Column("voided_at", UTCDateTime),
    Column("void_reason", String(200)),
    Column("voided_by", String(40)),
    # Its course (0 as soon as possible, then 1, 2 ...; services/courses.py), and when it was fired
    # to the kitchen: NULL while its course is held.
    Column("course", Integer, nullable=False, default=1, server_default="1"),
    Column("fired_at", UTCDateTime),
    # The item's prep minutes as when ordered (NULL on lines older than migration 0012).
    Column("prep_minutes", Integer),
    # Its tax as when ordered (migration 0017): the rate's name and percent × 1000 (20 % = 20000).
    Column("tax_name", String(40), nullable=False, default="", server_default=""),
    Column("tax_milli", Integer, nullable=False, default=0, server_default="0"),
    CheckConstraint("quantity BETWEEN 1 AND 99", name="quantity_in_range"),
)

# The options chosen on a line, as they were when ordered (like the line's name and price): the
# option may be renamed, repriced or deleted later. `count` is how often it was chosen (double
# bacon: 2); `position` is its place in the item's group/option order. `group_kind` is the group's
# kind, and `exactly_one` whether it took exactly one option (min 1, max 1: Doneness), when ordered:
# an old ticket reads as it did.
order_line_modifiers = Table(
    "order_line_modifiers",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("line_id", ForeignKey("order_lines.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("option_id", ForeignKey("modifier_options.id", ondelete="SET NULL")),
    Column("group_name", String(80), nullable=False),
    Column("option_name", String(80), nullable=False),
    Column("price_cents", Integer, nullable=False),
    Column("count", Integer, nullable=False),
    Column("position", Integer, nullable=False),
    Column("group_kind", String(10), nullable=False, default="choice", server_default="choice"),
    Column("exactly_one", Boolean, nullable=False, default=False, server_default=false()),
    CheckConstraint("count >= 1", name="count_positive"),
    CheckConstraint(f"group_kind IN {MODIFIER_KINDS!r}", name="group_kind_known"),
)

# One row (1): how the kitchen paces courses. `auto_fire`: the last line of a course bumped fires
# the next course present, in the same write.
kitchen_settings = Table(
    "kitchen_settings",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("auto_fire", Boolean, nullable=False),
)

# One row (1): online ordering's pause, busy delay and pickup slot capacity (services/online.py).
# `resume_at` NULL: paused until resumed; `slot_orders`/`slot_load` NULL: no limit.
online_settings = Table(
    "online_settings",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("paused", Boolean, nullable=False),
    Column("resume_at", UTCDateTime),
    Column("busy_minutes", Integer, nullable=False),
    Column("slot_orders", Integer),
    Column("slot_load", Integer),
)

# What one write put in front of one kitchen station (issue 16, services/dispatch.py): the order
# event carrying the change, the lines that reached the station and those voided on it (JSON lists
# of line ids), and proof of sight (services/sight.py): when a screen or printer of the station had
# it (`seen_at`, `seen_by` "screen grill-1" / "printer Grill"), and when the alarm was raised for it
# unseen (`alarmed_at`, set once). Station "" is the station of dishes that name none.
_UNSEEN = text("seen_at IS NULL")
_UNALARMED = text("seen_at IS NULL AND alarmed_at IS NULL")
sends = Table(
    "sends",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("order_id", ForeignKey("orders.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("event_id", Integer, nullable=False),
    Column("revision", Integer, nullable=False),
    Column("station", String(40), nullable=False),
    Column("reason", String(10), nullable=False),
    Column("line_ids", Text, nullable=False),
    Column("voided_ids", Text, nullable=False),
    Column("sent_at", UTCDateTime, nullable=False),
    Column("seen_at", UTCDateTime),
    Column("seen_by", String(60)),
    Column("alarmed_at", UTCDateTime),
    UniqueConstraint("event_id", "station"),
    CheckConstraint(f"reason IN {SEND_REASONS!r}", name="reason_known"),
    # The screens' question: the sends nobody has seen yet; and the alarm's: those not alarmed
    # either, oldest first (a send alarmed and never seen leaves the alarm's index).
    Index("ix_sends_unseen", "sent_at", sqlite_where=_UNSEEN, postgresql_where=_UNSEEN),
    Index("ix_sends_unalarmed", "sent_at", sqlite_where=_UNALARMED, postgresql_where=_UNALARMED),
)

# The kitchen's screens (issue 16, services/sight.py): a display names itself (`?screen=grill-1`)
# and reports the last event id it rendered, with a heartbeat. `station` is the view it shows (a
# station, or "" for the all-stations and expo views, which count for every station).
screens = Table(
    "screens",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("station", String(40), nullable=False),
    Column("last_event_id", Integer, nullable=False),
    Column("last_seen_at", UTCDateTime, nullable=False),
    Column("online", Boolean, nullable=False),
    Column("first_seen_at", UTCDateTime, nullable=False),
    Column("user_agent", String(200), nullable=False),
)

inventory = Table(
    "inventory",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("item_name", String(80), nullable=False, unique=True),
    # Thousandths of the unit, so 0.1 kg + 0.2 kg is exactly 0.3 kg.
    Column("quantity_milli", BigInteger, nullable=False),
    Column("unit", String(20), nullable=False),
    Column("last_updated", UTCDateTime, nullable=False),
    # At or below this many thousandths the item shows as low on stock; NULL: no threshold.
    Column("low_stock_milli", BigInteger),
    CheckConstraint("quantity_milli >= 0", name="quantity_not_negative"),
)

# What one portion of a menu item takes from stock.
recipe_lines = Table(
    "recipe_lines",
    metadata,
    Column("menu_item_id", ForeignKey("menu_items.id", ondelete="CASCADE"), primary_key=True),
    Column("inventory_id", ForeignKey("inventory.id"), primary_key=True, index=True),
    Column("quantity_milli", BigInteger, nullable=False),
    CheckConstraint("quantity_milli > 0", name="quantity_positive"),
)

# Every change of a stock quantity, so the quantity is always the sum of its movements.
stock_movements = Table(
    "stock_movements",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("inventory_id", ForeignKey("inventory.id"), nullable=False),
    Column("kind", String(10), nullable=False),
    Column("delta_milli", BigInteger, nullable=False),
    Column("quantity_milli", BigInteger, nullable=False),  # the quantity after this movement
    Column("order_id", ForeignKey("orders.id", ondelete="SET NULL")),
    Column("staff_id", ForeignKey("staff.id", ondelete="SET NULL")),
    Column("note", String(200), nullable=False, default=""),
    Column("created_at", UTCDateTime, nullable=False),
    Index(None, "inventory_id", "id"),
    CheckConstraint(f"kind IN {MOVEMENT_KINDS!r}", name="kind_known"),
)

events = Table(
    "events",
    metadata,
    # AUTOINCREMENT: ids are never reused, so a Last-Event-ID can never point at a different event.
    Column("id", Integer, primary_key=True),
    Column("type", String(40), nullable=False),
    Column("topic", String(20), nullable=False),
    Column("payload", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index(None, "topic", "id"),
    sqlite_autoincrement=True,
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("order_id", ForeignKey("orders.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False, index=True),
)

staff = Table(
    "staff",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(40), nullable=False, unique=True),
    Column("role", String(10), nullable=False),
    Column("password_hash", String(200), nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    # Failed sign-ins in a row, and until when the account is locked after too many.
    Column("failed_logins", Integer, nullable=False, default=0),
    Column("locked_until", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    CheckConstraint(f"role IN {ROLES!r}", name="role_known"),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("staff_id", ForeignKey("staff.id", ondelete="CASCADE"), nullable=False, index=True),
    # Only a hash is kept: a stolen database does not hand out working tokens.
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime),
    # Optional: a token stops working at this moment (NULL: until revoked).
    Column("expires_at", UTCDateTime),
    # When the token last signed a request in (updated at most once a minute).
    Column("last_used_at", UTCDateTime),
)

# Browser sign-ins, kept server-side so that signing out (or a manager) can end exactly one.
# The cookie carries the secret; only its hash is stored, like an API token's.
staff_sessions = Table(
    "staff_sessions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("staff_id", ForeignKey("staff.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("secret_hash", String(64), nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime),
)

# Every sign-in attempt, recorded (as pending) in the same write that checks the limits, so that
# parallel guesses are counted like sequential ones. `username` is the name as typed, known or not.
sign_in_attempts = Table(
    "sign_in_attempts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("username", String(80), nullable=False),
    Column("address", String(64), nullable=False),
    # The nonce of a valid device cookie the browser sent for this username, if any.
    Column("device", String(64)),
    Column("outcome", String(10), nullable=False),
    Column("created_at", UTCDateTime, nullable=False, index=True),
    Index(None, "address", "created_at"),
    Index(None, "username", "address", "created_at"),
    Index(None, "device", "created_at"),
    CheckConstraint(f"outcome IN {SIGN_IN_OUTCOMES!r}", name="outcome_known"),
)

# When the restaurant is open, per weekday (0 = Monday), in local time (settings.timezone): any
# number of "HH:MM" intervals a day, `closes` "24:00" for midnight; no rows for a day: closed.
# Scheduled pickups must fall inside them (services/hours.py owns the rules).
opening_hours = Table(
    "opening_hours",
    metadata,
    Column("weekday", Integer, primary_key=True),
    Column("opens", String(5), primary_key=True),
    Column("closes", String(5), nullable=False),
    CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday_known"),
    CheckConstraint("opens < closes", name="opens_before_closes"),
)

secrets = Table(
    "secrets",
    metadata,
    Column("name", String(40), primary_key=True),
    Column("value", String(200), nullable=False),
)


# Kitchen and receipt printers (issue 16, migration 0015; forkflow/services/printers.py owns them).
# `stations`: JSON list of the station names it prints chits for; a kitchen printer with none is an
# expo printer (the whole order at every send). The last four columns are its live status, written
# by the print worker (forkflow/printing/worker.py): `failing_since` is set while it cannot print.
printers = Table(
    "printers",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(60), nullable=False, unique=True),
    Column("host", String(253), nullable=False),
    Column("port", Integer, nullable=False),
    Column("role", String(10), nullable=False),
    Column("stations", Text, nullable=False, default="[]"),
    Column("backup_printer_id", ForeignKey("printers.id", ondelete="SET NULL")),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("last_ok_at", UTCDateTime),
    Column("last_error", Text),
    Column("last_error_at", UTCDateTime),
    Column("failing_since", UTCDateTime),
    CheckConstraint(f"role IN {PRINTER_ROLES!r}", name="role_known"),
    CheckConstraint("port BETWEEN 1 AND 65535", name="port_in_range"),
)

# One row (1, n): bumped by every change to a printer's set-up (not its status), in the same write;
# the order writer keeps the printer list between orders while it has not moved (printing/jobs.py).
printer_revision = Table(
    "printer_revision",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("revision", BigInteger, nullable=False),
)

# Print jobs: written in the same transaction as the change that needs them, sent by the print
# worker. The exactly-once invariant is forkflow/printing/__init__.py's.
print_jobs = Table(
    "print_jobs",
    metadata,
    Column("id", Integer, primary_key=True),
    # Where it is meant to print, and where it goes now (its backup's, once rerouted).
    Column("printer_id", ForeignKey("printers.id", ondelete="CASCADE"), nullable=False),
    Column("target_printer_id", ForeignKey("printers.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(10), nullable=False),
    Column("order_id", ForeignKey("orders.id", ondelete="CASCADE")),  # NULL: a test page, a report
    # The event whose payload is what it prints: the order as of the send (an order event), as of
    # the receipt's request (`print.receipt`), the test page's `print.test`, or the day's report as
    # of its request (`print.report`).
    Column("event_id", Integer, nullable=False),
    Column("revision", Integer, nullable=False, default=0),
    Column("station", String(40), nullable=False, default=""),  # "": the whole order
    # A chit's send as JSON (reason, line_ids, voided_ids: printing/jobs.py's `send_json`); a report's
    # day and kind ({"business_date", "kind"}: a second one is a REPRINT); "{}" otherwise.
    Column("send", Text, nullable=False, default="{}"),
    Column("headers", Text, nullable=False, default="[]"),  # JSON list of header lines
    Column("copy", Integer, nullable=False, default=0),  # 0: the original; n: the n-th reprint
    Column("status", String(10), nullable=False, default="queued"),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("claimed_by", String(80)),
    Column("claimed_until", UTCDateTime),
    Column("first_failed_at", UTCDateTime),  # the first failure on its current target
    Column("printed_at", UTCDateTime),
    Column("printed_on", ForeignKey("printers.id", ondelete="SET NULL")),
    Column("error", Text),
    Column("created_at", UTCDateTime, nullable=False),
    # The exactly-once key. The issue keys a chit by (order, revision, station, printer role); a
    # course fired at the same revision is a new send, so the send's event id stands for the
    # revision (and names the order: an event belongs to one order, and a test page has none, so
    # the key holds no NULL, which a UNIQUE index would never find equal).
    UniqueConstraint("kind", "event_id", "station", "printer_id", "copy", name="uq_print_jobs_once"),
    Index(None, "status", "target_printer_id", "id"),
    Index(None, "order_id"),
    CheckConstraint(f"kind IN {PRINT_KINDS!r}", name="kind_known"),
    CheckConstraint(f"status IN {PRINT_STATUSES!r}", name="status_known"),
)


# The money side (issue 17, migration 0017). Percents are stored × 1000 (`_milli`: 7.5 % = 7500),
# amounts in the currency's minor units (settings.currency), times in UTC; `business_date` is the
# service day (local, starting at FORKFLOW_DAY_STARTS_AT) a row is reported in. Who did it and who
# approved it are staff names, as elsewhere.

tax_rates = Table(
    "tax_rates",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(40), nullable=False, unique=True),
    Column("percent_milli", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    CheckConstraint("percent_milli BETWEEN 0 AND 100000", name="percent_in_range"),
)

# One row (1): how prices are taxed and rounded, the service charge, and the cashier's discount limit.
# Service charge: `service_charge_milli` of table orders with at least `service_charge_min_guests`
# guests (NULL: every table order); 0: none.
money_settings = Table(
    "money_settings",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("prices_include_tax", Boolean, nullable=False),
    Column("tax_rounding", String(5), nullable=False),
    Column("service_charge_milli", Integer, nullable=False),
    Column("service_charge_min_guests", Integer),
    Column("cashier_discount_limit_milli", Integer, nullable=False),
    CheckConstraint(f"tax_rounding IN {TAX_ROUNDINGS!r}", name="tax_rounding_known"),
    CheckConstraint("service_charge_milli BETWEEN 0 AND 100000", name="service_charge_in_range"),
    CheckConstraint("cashier_discount_limit_milli BETWEEN 0 AND 100000", name="limit_in_range"),
)

# The reasons a manager keeps for discounts, and for comps (`comp`: a 100 % discount's reason).
discount_reasons = Table(
    "discount_reasons",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(60), nullable=False, unique=True),
    Column("comp", Boolean, nullable=False, default=False),
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", UTCDateTime, nullable=False),
)

# A discount on one line (`line_id`) or the whole order (NULL): a percent or an amount off; removed
# ones stay, with who removed them.
order_discounts = Table(
    "order_discounts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("order_id", ForeignKey("orders.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("line_id", ForeignKey("order_lines.id", ondelete="CASCADE")),
    Column("kind", String(10), nullable=False),
    Column("percent_milli", Integer),
    Column("amount_cents", Integer),
    Column("comp", Boolean, nullable=False, default=False),
    Column("reason", String(60), nullable=False),
    Column("given_by", String(40), nullable=False),
    Column("approved_by", String(40)),
    Column("business_date", String(10), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("removed_at", UTCDateTime),
    Column("removed_by", String(40)),
    CheckConstraint(f"kind IN {DISCOUNT_KINDS!r}", name="kind_known"),
    CheckConstraint("percent_milli IS NULL OR percent_milli BETWEEN 0 AND 100000", name="percent_in_range"),
    CheckConstraint("amount_cents IS NULL OR amount_cents >= 0", name="amount_not_negative"),
)

# A cash drawer's session: opened with a float, closed with a count by denomination (`counts`: JSON
# {"2000": 3, ...} in minor units), its expected cash fixed at the close. One open drawer per name.
_OPEN = text("closed_at IS NULL")
drawers = Table(
    "drawers",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(40), nullable=False),
    Column("business_date", String(10), nullable=False),
    Column("float_cents", Integer, nullable=False),
    Column("opened_by", String(40), nullable=False),
    Column("opened_at", UTCDateTime, nullable=False),
    Column("closed_by", String(40)),
    Column("closed_at", UTCDateTime),
    Column("counts", Text),
    Column("counted_cents", Integer),
    Column("expected_cents", Integer),
    Index("uq_drawers_open_name", "name", unique=True, sqlite_where=_OPEN, postgresql_where=_OPEN),
    CheckConstraint("float_cents >= 0", name="float_not_negative"),
)

drawer_movements = Table(
    "drawer_movements",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("drawer_id", ForeignKey("drawers.id"), nullable=False, index=True),
    Column("kind", String(10), nullable=False),
    Column("amount_cents", Integer, nullable=False),
    Column("reason", String(200), nullable=False),
    Column("by", String(40), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    CheckConstraint(f"kind IN {DRAWER_MOVEMENT_KINDS!r}", name="kind_known"),
    CheckConstraint("amount_cents > 0", name="amount_positive"),
)

# A tender taken for an order: `amount_cents` goes to the bill, `tip_cents` on top; cash records what
# was handed over and the change. `line_ids`: JSON list when paid by item (a split), else NULL. A
# request's Idempotency-Key, with its body's hash, makes a retry the same payment.
payments = Table(
    "payments",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("order_id", ForeignKey("orders.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("tender", String(10), nullable=False),
    Column("amount_cents", Integer, nullable=False),
    Column("tip_cents", Integer, nullable=False, default=0),
    Column("tendered_cents", Integer),
    Column("change_cents", Integer, nullable=False, default=0),
    Column("reference", String(80), nullable=False, default=""),
    Column("line_ids", Text),
    Column("drawer_id", ForeignKey("drawers.id")),
    Column("taken_by", String(40), nullable=False),
    Column("business_date", String(10), nullable=False, index=True),
    Column("idempotency_key", String(200), unique=True),
    Column("request_hash", String(64)),
    Column("created_at", UTCDateTime, nullable=False),
    CheckConstraint(f"tender IN {TENDERS!r}", name="tender_known"),
    CheckConstraint("amount_cents > 0", name="amount_positive"),
    CheckConstraint("tip_cents >= 0", name="tip_not_negative"),
    CheckConstraint("change_cents >= 0", name="change_not_negative"),
)

# Money given back on a payment's tender (never more than it took), with the reason and the manager
# who approved it; `line_id` when it is a paid line's void.
refunds = Table(
    "refunds",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("order_id", ForeignKey("orders.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("payment_id", ForeignKey("payments.id"), nullable=False, index=True),
    Column("amount_cents", Integer, nullable=False),
    Column("tip_cents", Integer, nullable=False, default=0),
    Column("line_id", ForeignKey("order_lines.id")),
    Column("reason", String(200), nullable=False),
    Column("given_by", String(40), nullable=False),
    Column("approved_by", String(40), nullable=False),
    Column("drawer_id", ForeignKey("drawers.id")),
    Column("business_date", String(10), nullable=False, index=True),
    Column("idempotency_key", String(200), unique=True),
    Column("request_hash", String(64)),
    Column("created_at", UTCDateTime, nullable=False),
    CheckConstraint("amount_cents >= 0", name="amount_not_negative"),
    CheckConstraint("tip_cents >= 0", name="tip_not_negative"),
)

# A service day closed (its Z-report is final): by whom and when.
closed_days = Table(
    "closed_days",
    metadata,
    Column("business_date", String(10), primary_key=True),
    Column("closed_at", UTCDateTime, nullable=False),
    Column("closed_by", String(40), nullable=False),
)

"""the money side: taxes, discounts, payments, refunds, cash drawers, closed days

Tax rates (assigned per menu category, overridden per item, copied onto each order line when
ordered), the restaurant's money settings, discount reasons and order discounts, payments and
refunds (each with its request's Idempotency-Key), cash drawers and their paid-in/paid-out
movements, and the service days closed with their Z-report. Orders get their guests, the tax and
service charge settings they were priced under, and their figures. Older orders read as untaxed,
with no service charge, their subtotal their total (filled in below).

Revision ID: 0017
Revises: 0016
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

_OPEN = sa.text("closed_at IS NULL")


def _money(name: str) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.Integer(), nullable=False, server_default="0")


def upgrade() -> None:
    op.create_table(
        "tax_rates",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("percent_milli", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("name", name=op.f("uq_tax_rates_name")),
        sa.CheckConstraint("percent_milli BETWEEN 0 AND 100000", name=op.f("ck_tax_rates_percent_in_range")),
    )
    # No foreign key: SQLite cannot add one without rebuilding tables that order lines point at;
    # removing a tax rate clears it from categories and items in the same write.
    op.add_column("menu_items", sa.Column("tax_rate_id", sa.Integer(), nullable=True))
    op.add_column("menu_categories", sa.Column("tax_rate_id", sa.Integer(), nullable=True))
    op.add_column("order_lines", sa.Column("tax_name", sa.String(40), nullable=False, server_default=""))
    op.add_column("order_lines", _money("tax_milli"))
    op.add_column("orders", sa.Column("guests", sa.Integer(), nullable=True))
    op.add_column("orders", sa.Column("prices_include_tax", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column("orders", sa.Column("tax_rounding", sa.String(5), nullable=False, server_default="line"))
    for name in (
        "service_charge_milli",
        "subtotal_cents",
        "discount_cents",
        "tax_cents",
        "service_charge_cents",
        "paid_cents",
    ):
        op.add_column("orders", _money(name))
    op.add_column("orders", sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE orders SET subtotal_cents = total_cents")

    op.create_table(
        "money_settings",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("prices_include_tax", sa.Boolean(), nullable=False),
        sa.Column("tax_rounding", sa.String(5), nullable=False),
        sa.Column("service_charge_milli", sa.Integer(), nullable=False),
        sa.Column("service_charge_min_guests", sa.Integer(), nullable=True),
        sa.Column("cashier_discount_limit_milli", sa.Integer(), nullable=False),
        sa.CheckConstraint("tax_rounding IN ('line', 'order')", name=op.f("ck_money_settings_tax_rounding_known")),
        sa.CheckConstraint(
            "service_charge_milli BETWEEN 0 AND 100000", name=op.f("ck_money_settings_service_charge_in_range")
        ),
        sa.CheckConstraint(
            "cashier_discount_limit_milli BETWEEN 0 AND 100000", name=op.f("ck_money_settings_limit_in_range")
        ),
    )
    op.execute(
        "INSERT INTO money_settings (id, prices_include_tax, tax_rounding, service_charge_milli,"
        " cashier_discount_limit_milli) VALUES (1, false, 'line', 0, 10000)"
    )
    op.create_table(
        "discount_reasons",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(60), nullable=False),
        sa.Column("comp", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("name", name=op.f("uq_discount_reasons_name")),
    )
    op.create_table(
        "order_discounts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("line_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("percent_milli", sa.Integer(), nullable=True),
        sa.Column("amount_cents", sa.Integer(), nullable=True),
        sa.Column("comp", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(60), nullable=False),
        sa.Column("given_by", sa.String(40), nullable=False),
        sa.Column("approved_by", sa.String(40), nullable=True),
        sa.Column("business_date", sa.String(10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("removed_by", sa.String(40), nullable=True),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_order_discounts_order_id_orders"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["line_id"], ["order_lines.id"], name=op.f("fk_order_discounts_line_id_order_lines"), ondelete="CASCADE"
        ),
        sa.CheckConstraint("kind IN ('percent', 'amount')", name=op.f("ck_order_discounts_kind_known")),
        sa.CheckConstraint(
            "percent_milli IS NULL OR percent_milli BETWEEN 0 AND 100000",
            name=op.f("ck_order_discounts_percent_in_range"),
        ),
        sa.CheckConstraint(
            "amount_cents IS NULL OR amount_cents >= 0", name=op.f("ck_order_discounts_amount_not_negative")
        ),
    )
    op.create_index("ix_order_discounts_order_id", "order_discounts", ["order_id"])
    op.create_table(
        "drawers",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("business_date", sa.String(10), nullable=False),
        sa.Column("float_cents", sa.Integer(), nullable=False),
        sa.Column("opened_by", sa.String(40), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_by", sa.String(40), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("counts", sa.Text(), nullable=True),
        sa.Column("counted_cents", sa.Integer(), nullable=True),
        sa.Column("expected_cents", sa.Integer(), nullable=True),
        sa.CheckConstraint("float_cents >= 0", name=op.f("ck_drawers_float_not_negative")),
    )
    op.create_index(
        "uq_drawers_open_name", "drawers", ["name"], unique=True, sqlite_where=_OPEN, postgresql_where=_OPEN
    )
    op.create_table(
        "drawer_movements",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("drawer_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("by", sa.String(40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["drawer_id"], ["drawers.id"], name=op.f("fk_drawer_movements_drawer_id_drawers")),
        sa.CheckConstraint("kind IN ('paid_in', 'paid_out')", name=op.f("ck_drawer_movements_kind_known")),
        sa.CheckConstraint("amount_cents > 0", name=op.f("ck_drawer_movements_amount_positive")),
    )
    op.create_index("ix_drawer_movements_drawer_id", "drawer_movements", ["drawer_id"])
    op.create_table(
        "payments",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("tender", sa.String(10), nullable=False),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.Column("tip_cents", sa.Integer(), nullable=False),
        sa.Column("tendered_cents", sa.Integer(), nullable=True),
        sa.Column("change_cents", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(80), nullable=False),
        sa.Column("line_ids", sa.Text(), nullable=True),
        sa.Column("drawer_id", sa.Integer(), nullable=True),
        sa.Column("taken_by", sa.String(40), nullable=False),
        sa.Column("business_date", sa.String(10), nullable=False),
        sa.Column("idempotency_key", sa.String(200), nullable=True),
        sa.Column("request_hash", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_payments_order_id_orders"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["drawer_id"], ["drawers.id"], name=op.f("fk_payments_drawer_id_drawers")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_payments_idempotency_key")),
        sa.CheckConstraint("tender IN ('cash', 'card', 'other')", name=op.f("ck_payments_tender_known")),
        sa.CheckConstraint("amount_cents > 0", name=op.f("ck_payments_amount_positive")),
        sa.CheckConstraint("tip_cents >= 0", name=op.f("ck_payments_tip_not_negative")),
        sa.CheckConstraint("change_cents >= 0", name=op.f("ck_payments_change_not_negative")),
    )
    op.create_index("ix_payments_order_id", "payments", ["order_id"])
    op.create_index("ix_payments_business_date", "payments", ["business_date"])
    op.create_table(
        "refunds",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("payment_id", sa.Integer(), nullable=False),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.Column("tip_cents", sa.Integer(), nullable=False),
        sa.Column("line_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("given_by", sa.String(40), nullable=False),
        sa.Column("approved_by", sa.String(40), nullable=False),
        sa.Column("drawer_id", sa.Integer(), nullable=True),
        sa.Column("business_date", sa.String(10), nullable=False),
        sa.Column("idempotency_key", sa.String(200), nullable=True),
        sa.Column("request_hash", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_refunds_order_id_orders"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["payment_id"], ["payments.id"], name=op.f("fk_refunds_payment_id_payments")),
        sa.ForeignKeyConstraint(["line_id"], ["order_lines.id"], name=op.f("fk_refunds_line_id_order_lines")),
        sa.ForeignKeyConstraint(["drawer_id"], ["drawers.id"], name=op.f("fk_refunds_drawer_id_drawers")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_refunds_idempotency_key")),
        sa.CheckConstraint("amount_cents >= 0", name=op.f("ck_refunds_amount_not_negative")),
        sa.CheckConstraint("tip_cents >= 0", name=op.f("ck_refunds_tip_not_negative")),
    )
    op.create_index("ix_refunds_order_id", "refunds", ["order_id"])
    op.create_index("ix_refunds_payment_id", "refunds", ["payment_id"])
    op.create_index("ix_refunds_business_date", "refunds", ["business_date"])
    op.create_table(
        "closed_days",
        sa.Column("business_date", sa.String(10), primary_key=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_by", sa.String(40), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("closed_days")
    op.drop_table("refunds")
    op.drop_table("payments")
    op.drop_table("drawer_movements")
    op.drop_index("uq_drawers_open_name", table_name="drawers")
    op.drop_table("drawers")
    op.drop_table("order_discounts")
    op.drop_table("discount_reasons")
    op.drop_table("money_settings")
    for name in (
        "closed_at",
        "paid_cents",
        "service_charge_cents",
        "tax_cents",
        "discount_cents",
        "subtotal_cents",
        "service_charge_milli",
        "tax_rounding",
        "prices_include_tax",
        "guests",
    ):
        op.drop_column("orders", name)
    op.drop_column("order_lines", "tax_milli")
    op.drop_column("order_lines", "tax_name")
    op.drop_column("menu_categories", "tax_rate_id")
    op.drop_column("menu_items", "tax_rate_id")
    op.drop_table("tax_rates")

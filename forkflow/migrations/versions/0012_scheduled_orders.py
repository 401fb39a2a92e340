"""scheduled orders: menu items' prep time and kitchen load, orders' pickup and release times, each
order line's prep time as ordered, and the opening hours

Existing items get 10 minutes and a load of 1 per portion; existing orders are ASAP (no pickup, no
release: on the kitchen already); existing lines keep no prep time (NULL: no "start in" for them).
Opening hours start open every day, all day, so nothing that worked before is refused.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    # Plain ADD COLUMN with the CHECK inline (SQLite cannot add a constraint to a table; a batch
    # rebuild would cascade, see env.py).
    op.add_column(
        "menu_items",
        sa.Column(
            "prep_minutes",
            sa.Integer(),
            sa.CheckConstraint("prep_minutes BETWEEN 0 AND 240", name=op.f("ck_menu_items_prep_minutes_in_range")),
            nullable=False,
            server_default="10",
        ),
    )
    op.add_column(
        "menu_items",
        sa.Column(
            "prep_load",
            sa.Integer(),
            sa.CheckConstraint("prep_load BETWEEN 0 AND 100", name=op.f("ck_menu_items_prep_load_in_range")),
            nullable=False,
            server_default="1",
        ),
    )
    op.add_column("order_lines", sa.Column("prep_minutes", sa.Integer(), nullable=True))
    op.add_column("orders", sa.Column("pickup_at", _UTC, nullable=True))
    op.add_column("orders", sa.Column("release_at", _UTC, nullable=True))
    op.add_column("orders", sa.Column("released_at", _UTC, nullable=True))
    op.create_index("ix_orders_release_at", "orders", ["release_at"])
    op.create_index("ix_orders_pickup_at", "orders", ["pickup_at"])
    hours = op.create_table(
        "opening_hours",
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("opens", sa.String(length=5), nullable=False),
        sa.Column("closes", sa.String(length=5), nullable=False),
        sa.PrimaryKeyConstraint("weekday", "opens", name=op.f("pk_opening_hours")),
        sa.CheckConstraint("weekday BETWEEN 0 AND 6", name=op.f("ck_opening_hours_weekday_known")),
        sa.CheckConstraint("opens < closes", name=op.f("ck_opening_hours_opens_before_closes")),
    )
    op.bulk_insert(hours, [{"weekday": day, "opens": "00:00", "closes": "24:00"} for day in range(7)])


def downgrade() -> None:
    op.drop_table("opening_hours")
    op.drop_index("ix_orders_pickup_at", "orders")
    op.drop_index("ix_orders_release_at", "orders")
    for column in ("released_at", "release_at", "pickup_at"):
        op.drop_column("orders", column)
    op.drop_column("order_lines", "prep_minutes")
    op.drop_column("menu_items", "prep_load")
    op.drop_column("menu_items", "prep_minutes")

"""online capacity: the one-row online ordering settings, and each order's pickup slot and kitchen load

`online_settings` (row 1) says whether online ordering is paused (and until when), the busy delay
added to quoted times, and the capacity of a 15-minute pickup slot (orders, kitchen load; NULL: no
limit). An order's `slot_at` is the start of the slot it is counted in, and `kitchen_load` the sum
of its lines' `prep_load × quantity`, both fixed when it is placed (services/online.py). Orders
placed before this migration have neither and count in no slot.

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "online_settings",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("resume_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("busy_minutes", sa.Integer(), nullable=False),
        sa.Column("slot_orders", sa.Integer(), nullable=True),
        sa.Column("slot_load", sa.Integer(), nullable=True),
    )
    op.execute("INSERT INTO online_settings (id, paused, busy_minutes) VALUES (1, false, 0)")
    op.add_column("orders", sa.Column("slot_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("orders", sa.Column("kitchen_load", sa.Integer(), nullable=True))
    op.create_index("ix_orders_slot_at", "orders", ["slot_at"])


def downgrade() -> None:
    # Plain ALTER TABLE ... DROP COLUMN, as 0007: a batch rebuild would cascade (see env.py).
    op.drop_index("ix_orders_slot_at", table_name="orders")
    op.drop_column("orders", "kitchen_load")
    op.drop_column("orders", "slot_at")
    op.drop_table("online_settings")

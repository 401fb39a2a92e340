"""the order side of modifiers: each line's chosen options (a snapshot) and allergens, the order's
allergies and their acknowledgement

Existing orders have no modifiers, no allergies and lines without allergens.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("orders", sa.Column("allergies", sa.String(length=200), nullable=False, server_default=""))
    op.add_column("orders", sa.Column("allergies_acknowledged_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("orders", sa.Column("allergies_acknowledged_by", sa.String(length=40), nullable=True))
    op.add_column("order_lines", sa.Column("allergens", sa.String(length=200), nullable=False, server_default=""))
    op.create_table(
        "order_line_modifiers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("line_id", sa.Integer(), nullable=False),
        sa.Column("option_id", sa.Integer(), nullable=True),
        sa.Column("group_name", sa.String(length=80), nullable=False),
        sa.Column("option_name", sa.String(length=80), nullable=False),
        sa.Column("price_cents", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.CheckConstraint("count >= 1", name=op.f("ck_order_line_modifiers_count_positive")),
        sa.ForeignKeyConstraint(
            ["line_id"],
            ["order_lines.id"],
            name=op.f("fk_order_line_modifiers_line_id_order_lines"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["option_id"],
            ["modifier_options.id"],
            name=op.f("fk_order_line_modifiers_option_id_modifier_options"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_line_modifiers")),
    )
    op.create_index(op.f("ix_order_line_modifiers_line_id"), "order_line_modifiers", ["line_id"])


def downgrade() -> None:
    op.drop_table("order_line_modifiers")
    # Plain ALTER TABLE ... DROP COLUMN, as 0007: a batch rebuild would cascade (see env.py).
    op.drop_column("order_lines", "allergens")
    op.drop_column("orders", "allergies_acknowledged_by")
    op.drop_column("orders", "allergies_acknowledged_at")
    op.drop_column("orders", "allergies")

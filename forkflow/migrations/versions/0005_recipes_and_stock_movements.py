"""recipes, stock movements, and a manager's 86 kept apart from availability

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

KINDS = ("order", "cancel", "restock", "count", "waste")


def upgrade() -> None:
    op.add_column("menu_items", sa.Column("switched_off", sa.Boolean(), nullable=False, server_default=sa.false()))
    # Until now every unavailable item had been switched off by hand.
    op.execute("UPDATE menu_items SET switched_off = NOT available")
    op.create_table(
        "recipe_lines",
        sa.Column("menu_item_id", sa.Integer(), nullable=False),
        sa.Column("inventory_id", sa.Integer(), nullable=False),
        sa.Column("quantity_milli", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("quantity_milli > 0", name=op.f("ck_recipe_lines_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["inventory_id"], ["inventory.id"], name=op.f("fk_recipe_lines_inventory_id_inventory")
        ),
        sa.ForeignKeyConstraint(
            ["menu_item_id"],
            ["menu_items.id"],
            name=op.f("fk_recipe_lines_menu_item_id_menu_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("menu_item_id", "inventory_id", name=op.f("pk_recipe_lines")),
    )
    op.create_index(op.f("ix_recipe_lines_inventory_id"), "recipe_lines", ["inventory_id"])
    op.create_table(
        "stock_movements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("inventory_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("delta_milli", sa.BigInteger(), nullable=False),
        sa.Column("quantity_milli", sa.BigInteger(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(f"kind IN {KINDS!r}", name=op.f("ck_stock_movements_kind_known")),
        sa.ForeignKeyConstraint(
            ["inventory_id"], ["inventory.id"], name=op.f("fk_stock_movements_inventory_id_inventory")
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_stock_movements_order_id_orders"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_stock_movements_staff_id_staff"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_movements")),
    )
    op.create_index(op.f("ix_stock_movements_inventory_id_id"), "stock_movements", ["inventory_id", "id"])
    # The stock already counted opens each item's movements, so quantities are their movements' sum.
    op.execute(
        "INSERT INTO stock_movements (inventory_id, kind, delta_milli, quantity_milli, note, created_at) "
        "SELECT id, 'count', quantity_milli, quantity_milli, 'opening stock', last_updated FROM inventory"
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_stock_movements_inventory_id_id"), table_name="stock_movements")
    op.drop_table("stock_movements")
    op.drop_index(op.f("ix_recipe_lines_inventory_id"), table_name="recipe_lines")
    op.drop_table("recipe_lines")
    op.drop_column("menu_items", "switched_off")

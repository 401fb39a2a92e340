"""modifier groups and options, allergens and dietary tags, and the menu's own order

Existing items keep today's order: categories alphabetically, and items by name within each.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("menu_items", sa.Column("position", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("menu_items", sa.Column("allergens", sa.String(length=200), nullable=False, server_default=""))
    op.add_column("menu_items", sa.Column("dietary", sa.String(length=40), nullable=False, server_default=""))
    op.create_table(
        "menu_categories",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_menu_categories")),
    )
    conn = op.get_bind()
    items = conn.execute(sa.text("SELECT id, category FROM menu_items ORDER BY category, name, id")).all()
    positions: dict[str, int] = {}
    for item_id, category in items:
        positions[category] = positions.get(category, -1) + 1
        conn.execute(
            sa.text("UPDATE menu_items SET position = :position WHERE id = :id"),
            {"position": positions[category], "id": item_id},
        )
    for position, category in enumerate(positions):  # (in the query's order: alphabetical)
        conn.execute(
            sa.text("INSERT INTO menu_categories (name, position) VALUES (:name, :position)"),
            {"name": category, "position": position},
        )
    op.create_table(
        "modifier_groups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("menu_item_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("min_choices", sa.Integer(), nullable=False),
        sa.Column("max_choices", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "min_choices >= 0 AND max_choices >= 1 AND min_choices <= max_choices",
            name=op.f("ck_modifier_groups_choices_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["menu_item_id"],
            ["menu_items.id"],
            name=op.f("fk_modifier_groups_menu_item_id_menu_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_modifier_groups")),
    )
    op.create_index(op.f("ix_modifier_groups_menu_item_id"), "modifier_groups", ["menu_item_id"])
    op.create_table(
        "modifier_options",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("price_cents", sa.Integer(), nullable=False),
        sa.Column("allergens", sa.String(length=200), nullable=False),
        sa.Column("available", sa.Boolean(), nullable=False),
        sa.Column("switched_off", sa.Boolean(), nullable=False),
        sa.CheckConstraint("price_cents >= 0", name=op.f("ck_modifier_options_price_not_negative")),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["modifier_groups.id"],
            name=op.f("fk_modifier_options_group_id_modifier_groups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_modifier_options")),
    )
    op.create_index(op.f("ix_modifier_options_group_id"), "modifier_options", ["group_id"])
    op.create_table(
        "option_recipe_lines",
        sa.Column("option_id", sa.Integer(), nullable=False),
        sa.Column("inventory_id", sa.Integer(), nullable=False),
        sa.Column("quantity_milli", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("quantity_milli <> 0", name=op.f("ck_option_recipe_lines_quantity_not_zero")),
        sa.ForeignKeyConstraint(
            ["inventory_id"], ["inventory.id"], name=op.f("fk_option_recipe_lines_inventory_id_inventory")
        ),
        sa.ForeignKeyConstraint(
            ["option_id"],
            ["modifier_options.id"],
            name=op.f("fk_option_recipe_lines_option_id_modifier_options"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("option_id", "inventory_id", name=op.f("pk_option_recipe_lines")),
    )
    op.create_index(op.f("ix_option_recipe_lines_inventory_id"), "option_recipe_lines", ["inventory_id"])


def downgrade() -> None:
    op.drop_table("option_recipe_lines")
    op.drop_table("modifier_options")
    op.drop_table("modifier_groups")
    op.drop_table("menu_categories")
    # Plain ALTER TABLE ... DROP COLUMN: a batch rebuild of menu_items would cascade (see env.py).
    op.drop_column("menu_items", "dietary")
    op.drop_column("menu_items", "allergens")
    op.drop_column("menu_items", "position")

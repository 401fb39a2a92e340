"""courses, hold and fire, and the rush flag: each category's default course, each line's course
and when it was fired (NULL: held), an order's rush flag, and the kitchen's auto-fire setting

Lines of orders made before this are fired when their order was created (nothing was ever held).
Courses are checked (0 to 9) by the input models, not by a CHECK: adding one would rebuild
order_lines on SQLite. A category's course is part of what the order writer's menu cache reads, so changes to
menu_categories bump the menu's revision too (as migration 0010's tables do).

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_BUMP = "UPDATE menu_revision SET revision = revision + 1"
_CHANGES = ("insert", "update", "delete")


def upgrade() -> None:
    # Plain ADD COLUMNs: a batch operation would rebuild the tables on SQLite, and dropping orders
    # with foreign keys on would take its lines with it.
    op.add_column("menu_categories", sa.Column("course", sa.Integer(), nullable=False, server_default="1"))
    op.add_column("order_lines", sa.Column("course", sa.Integer(), nullable=False, server_default="1"))
    op.add_column("order_lines", sa.Column("fired_at", sa.DateTime(timezone=True)))
    op.execute(
        "UPDATE order_lines SET fired_at ="
        " (SELECT orders.created_at FROM orders WHERE orders.id = order_lines.order_id)"
    )
    op.add_column("orders", sa.Column("rush", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_table(
        "kitchen_settings",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("auto_fire", sa.Boolean(), nullable=False),
    )
    op.execute("INSERT INTO kitchen_settings (id, auto_fire) VALUES (1, false)")
    if op.get_context().dialect.name == "postgresql":
        op.execute(
            "CREATE TRIGGER menu_categories_bump_menu_revision AFTER INSERT OR UPDATE OR DELETE ON menu_categories "
            "FOR EACH STATEMENT EXECUTE FUNCTION forkflow_bump_menu_revision()"
        )
    else:
        for change in _CHANGES:
            op.execute(
                f"CREATE TRIGGER menu_categories_{change}_bumps_menu_revision AFTER {change.upper()} ON "
                f"menu_categories FOR EACH ROW BEGIN {_BUMP}; END"
            )


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute("DROP TRIGGER menu_categories_bump_menu_revision ON menu_categories")
    else:
        for change in _CHANGES:
            op.execute(f"DROP TRIGGER menu_categories_{change}_bumps_menu_revision")
    op.drop_table("kitchen_settings")
    op.drop_column("orders", "rush")
    op.drop_column("order_lines", "fired_at")
    op.drop_column("order_lines", "course")
    op.drop_column("menu_categories", "course")

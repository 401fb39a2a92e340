"""the menu's revision: one counter that every change to dishes, modifier groups, options or
options' recipes bumps

The order writer keeps the menu rows it reads between orders (services/orders.py); a cached row is
good while the revision it was read at is still the database's. Triggers, not the services, count:
so every writer is seen (the services, stock's auto-86, the command line in another process, other
PostgreSQL workers, a manual UPDATE).

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

# (Options' recipes too: the cache knows which options take stock.)
_TABLES = ("menu_items", "modifier_groups", "modifier_options", "option_recipe_lines")
_BUMP = "UPDATE menu_revision SET revision = revision + 1"


def upgrade() -> None:
    op.create_table(
        "menu_revision",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
    )
    op.execute("INSERT INTO menu_revision (id, revision) VALUES (1, 0)")
    if op.get_context().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION forkflow_bump_menu_revision() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN {_BUMP}; RETURN NULL; END $$"
        )
        for table in _TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_bump_menu_revision AFTER INSERT OR UPDATE OR DELETE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION forkflow_bump_menu_revision()"
            )
        return
    # SQLite has row triggers only, one per event.
    for table in _TABLES:
        for change in ("insert", "update", "delete"):
            op.execute(
                f"CREATE TRIGGER {table}_{change}_bumps_menu_revision AFTER {change.upper()} ON {table} "
                f"FOR EACH ROW BEGIN {_BUMP}; END"
            )


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        for table in _TABLES:
            op.execute(f"DROP TRIGGER {table}_bump_menu_revision ON {table}")
        op.execute("DROP FUNCTION forkflow_bump_menu_revision()")
    else:
        for table in _TABLES:
            for change in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER {table}_{change}_bumps_menu_revision")
    op.drop_table("menu_revision")

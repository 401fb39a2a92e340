"""modifier groups' kind (a choice, additions, removals), kept with each chosen option of an order
line, with whether its group took exactly one option

Existing groups and chosen options become choices; old chosen options are not "exactly one", so an
old ticket reads as it did ("Doneness: Medium").

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# vocabulary.MODIFIER_KINDS when this was written (migrations keep their own copies).
_KINDS = "('choice', 'add', 'remove')"


def upgrade() -> None:
    # Plain ADD COLUMN with the CHECK inline (SQLite cannot add a constraint to a table; a batch
    # rebuild would cascade, see env.py).
    op.add_column(
        "modifier_groups",
        sa.Column(
            "kind",
            sa.String(length=10),
            sa.CheckConstraint(f"kind IN {_KINDS}", name=op.f("ck_modifier_groups_kind_known")),
            nullable=False,
            server_default="choice",
        ),
    )
    op.add_column(
        "order_line_modifiers",
        sa.Column(
            "group_kind",
            sa.String(length=10),
            sa.CheckConstraint(f"group_kind IN {_KINDS}", name=op.f("ck_order_line_modifiers_group_kind_known")),
            nullable=False,
            server_default="choice",
        ),
    )
    op.add_column(
        "order_line_modifiers",
        sa.Column("exactly_one", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    op.drop_column("order_line_modifiers", "exactly_one")
    op.drop_column("order_line_modifiers", "group_kind")
    op.drop_column("modifier_groups", "kind")

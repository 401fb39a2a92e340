"""changes after sending: an order's revision, and each line's revision, void time, reason and who voided it

An order's `revision` is 1 when it is placed and grows by one at each change after sending (lines
added or voided); a line's is the order's revision that added it. Existing orders and lines are at
revision 1, none voided.

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("orders", sa.Column("revision", sa.Integer(), nullable=False, server_default="1"))
    op.add_column("order_lines", sa.Column("revision", sa.Integer(), nullable=False, server_default="1"))
    op.add_column("order_lines", sa.Column("voided_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("order_lines", sa.Column("void_reason", sa.String(length=200), nullable=True))
    op.add_column("order_lines", sa.Column("voided_by", sa.String(length=40), nullable=True))


def downgrade() -> None:
    # Plain ALTER TABLE ... DROP COLUMN, as 0007: a batch rebuild would cascade (see env.py).
    op.drop_column("order_lines", "voided_by")
    op.drop_column("order_lines", "void_reason")
    op.drop_column("order_lines", "voided_at")
    op.drop_column("order_lines", "revision")
    op.drop_column("orders", "revision")

"""kitchen display: each line's station and done time; when orders became ready and completed

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("order_lines", sa.Column("station", sa.String(length=40), nullable=True))
    op.add_column("order_lines", sa.Column("done_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("orders", sa.Column("ready_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("orders", sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(
        "UPDATE order_lines SET station = "
        "(SELECT station FROM menu_items WHERE menu_items.id = order_lines.menu_item_id)"
    )


def downgrade() -> None:
    op.drop_column("orders", "completed_at")
    op.drop_column("orders", "ready_at")
    op.drop_column("order_lines", "done_at")
    op.drop_column("order_lines", "station")

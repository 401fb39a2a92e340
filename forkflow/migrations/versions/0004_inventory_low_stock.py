"""inventory: a low-stock threshold per item

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain nullable ADD COLUMN: no table rebuild, existing items simply have no threshold.
    op.add_column("inventory", sa.Column("low_stock_milli", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    op.drop_column("inventory", "low_stock_milli")

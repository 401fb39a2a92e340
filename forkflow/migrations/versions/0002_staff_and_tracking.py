"""staff accounts, API tokens, app secrets, and tracking tokens on orders

Revision ID: 0002
Revises: 0001
"""

import secrets as random_secrets

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "staff",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("role", sa.String(length=10), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("role IN ('kitchen', 'cashier', 'manager')", name=op.f("ck_staff_role_known")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff")),
        sa.UniqueConstraint("name", name=op.f("uq_staff_name")),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_api_tokens_staff_id_staff"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    with op.batch_alter_table("api_tokens") as batch_op:
        batch_op.create_index(batch_op.f("ix_api_tokens_staff_id"), ["staff_id"], unique=False)
    op.create_table(
        "secrets",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_secrets")),
    )

    # Orders made before tracking existed get a token too, so every order can be tracked.
    # A plain ADD COLUMN and a unique index: a batch rebuild of `orders` would DROP it, and with
    # foreign keys on that cascades to its order lines.
    op.add_column("orders", sa.Column("tracking_token", sa.String(length=64), nullable=True))
    connection = op.get_bind()
    order_ids = connection.execute(sa.text("SELECT id FROM orders WHERE tracking_token IS NULL")).scalars().all()
    for order_id in order_ids:
        connection.execute(
            sa.text("UPDATE orders SET tracking_token = :token WHERE id = :id"),
            {"token": random_secrets.token_urlsafe(24), "id": order_id},
        )
    op.create_index(op.f("uq_orders_tracking_token"), "orders", ["tracking_token"], unique=True)


def downgrade() -> None:
    op.drop_index(op.f("uq_orders_tracking_token"), "orders")
    op.drop_column("orders", "tracking_token")
    op.drop_table("secrets")
    with op.batch_alter_table("api_tokens") as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_tokens_staff_id"))
    op.drop_table("api_tokens")
    op.drop_table("staff")

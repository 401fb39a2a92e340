"""server-side sessions, recorded sign-in attempts, token expiry and last use

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

OUTCOMES = ("pending", "failed", "ok")


def upgrade() -> None:
    op.add_column("api_tokens", sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("api_tokens", sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "staff_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_staff_sessions_staff_id_staff"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_sessions")),
        sa.UniqueConstraint("secret_hash", name=op.f("uq_staff_sessions_secret_hash")),
    )
    op.create_index(op.f("ix_staff_sessions_staff_id"), "staff_sessions", ["staff_id"], unique=False)
    op.create_table(
        "sign_in_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=80), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("device", sa.String(length=64), nullable=True),
        sa.Column("outcome", sa.String(length=10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(f"outcome IN {OUTCOMES!r}", name=op.f("ck_sign_in_attempts_outcome_known")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_in_attempts")),
    )
    op.create_index(op.f("ix_sign_in_attempts_created_at"), "sign_in_attempts", ["created_at"], unique=False)
    op.create_index(
        op.f("ix_sign_in_attempts_address_created_at"), "sign_in_attempts", ["address", "created_at"], unique=False
    )
    op.create_index(
        op.f("ix_sign_in_attempts_username_address_created_at"),
        "sign_in_attempts",
        ["username", "address", "created_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_sign_in_attempts_device_created_at"), "sign_in_attempts", ["device", "created_at"], unique=False
    )


def downgrade() -> None:
    op.drop_table("sign_in_attempts")
    op.drop_index(op.f("ix_staff_sessions_staff_id"), "staff_sessions")
    op.drop_table("staff_sessions")
    with op.batch_alter_table("api_tokens") as batch_op:
        batch_op.drop_column("last_used_at")
        batch_op.drop_column("expires_at")

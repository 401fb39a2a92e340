"""proof of sight: sends (what each write put in front of each kitchen station) and screens

`sends` holds one row per (order event, station) that got lines or voids (services/dispatch.py),
with when a screen or printer of the station had it and when the unseen alarm was raised
(services/sight.py). `screens` holds each kitchen display that named itself: its station, the last
event id it rendered, its heartbeat. Orders placed before this migration have no sends: no alarm
is ever raised for them.

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sends",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("station", sa.String(40), nullable=False),
        sa.Column("reason", sa.String(10), nullable=False),
        sa.Column("line_ids", sa.Text(), nullable=False),
        sa.Column("voided_ids", sa.Text(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("seen_by", sa.String(60), nullable=True),
        sa.Column("alarmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("fk_sends_order_id_orders"), ondelete="CASCADE"),
        sa.UniqueConstraint("event_id", "station", name=op.f("uq_sends_event_id_station")),
        sa.CheckConstraint(
            "reason IN ('new', 'released', 'fired', 'added', 'void')", name=op.f("ck_sends_reason_known")
        ),
    )
    op.create_index("ix_sends_order_id", "sends", ["order_id"])
    unseen = sa.text("seen_at IS NULL")
    op.create_index("ix_sends_unseen", "sends", ["sent_at"], sqlite_where=unseen, postgresql_where=unseen)
    unalarmed = sa.text("seen_at IS NULL AND alarmed_at IS NULL")
    op.create_index("ix_sends_unalarmed", "sends", ["sent_at"], sqlite_where=unalarmed, postgresql_where=unalarmed)
    op.create_table(
        "screens",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("station", sa.String(40), nullable=False),
        sa.Column("last_event_id", sa.Integer(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("online", sa.Boolean(), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_agent", sa.String(200), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("screens")
    op.drop_index("ix_sends_unalarmed", table_name="sends")
    op.drop_index("ix_sends_unseen", table_name="sends")
    op.drop_index("ix_sends_order_id", table_name="sends")
    op.drop_table("sends")

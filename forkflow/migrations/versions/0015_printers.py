"""printers: kitchen and receipt printers, their set-up's revision, and the print jobs queue

`printers` holds each printer's set-up (name, host, port, role, the stations it prints for, its
backup) and its live status (last success, last error, failing since). `printer_revision` (row 1)
is bumped by every set-up change, so the order writer may keep the list between orders.
`print_jobs` are the chits, receipts and test pages to print, written in the same transaction as
the change that needs them; UNIQUE (kind, event_id, station, printer_id, copy) makes each one
exactly once (forkflow/printing/__init__.py).

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "printers",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(60), nullable=False, unique=True),
        sa.Column("host", sa.String(253), nullable=False),
        sa.Column("port", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(10), nullable=False),
        sa.Column("stations", sa.Text(), nullable=False),
        sa.Column(
            "backup_printer_id",
            sa.Integer(),
            sa.ForeignKey("printers.id", ondelete="SET NULL", name="fk_printers_backup_printer_id_printers"),
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_ok_at", sa.DateTime(timezone=True)),
        sa.Column("last_error", sa.Text()),
        sa.Column("last_error_at", sa.DateTime(timezone=True)),
        sa.Column("failing_since", sa.DateTime(timezone=True)),
        sa.CheckConstraint("role IN ('kitchen', 'receipt')", name="ck_printers_role_known"),
        sa.CheckConstraint("port BETWEEN 1 AND 65535", name="ck_printers_port_in_range"),
    )
    op.create_table(
        "printer_revision",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
    )
    op.execute("INSERT INTO printer_revision (id, revision) VALUES (1, 0)")
    op.create_table(
        "print_jobs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "printer_id",
            sa.Integer(),
            sa.ForeignKey("printers.id", ondelete="CASCADE", name="fk_print_jobs_printer_id_printers"),
            nullable=False,
        ),
        sa.Column(
            "target_printer_id",
            sa.Integer(),
            sa.ForeignKey("printers.id", ondelete="CASCADE", name="fk_print_jobs_target_printer_id_printers"),
            nullable=False,
        ),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column(
            "order_id",
            sa.Integer(),
            sa.ForeignKey("orders.id", ondelete="CASCADE", name="fk_print_jobs_order_id_orders"),
        ),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("station", sa.String(40), nullable=False),
        sa.Column("send", sa.Text(), nullable=False),
        sa.Column("headers", sa.Text(), nullable=False),
        sa.Column("copy", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.String(80)),
        sa.Column("claimed_until", sa.DateTime(timezone=True)),
        sa.Column("first_failed_at", sa.DateTime(timezone=True)),
        sa.Column("printed_at", sa.DateTime(timezone=True)),
        sa.Column(
            "printed_on",
            sa.Integer(),
            sa.ForeignKey("printers.id", ondelete="SET NULL", name="fk_print_jobs_printed_on_printers"),
        ),
        sa.Column("error", sa.Text()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("kind", "event_id", "station", "printer_id", "copy", name="uq_print_jobs_once"),
        sa.CheckConstraint("kind IN ('chit', 'unseen', 'receipt', 'test')", name="ck_print_jobs_kind_known"),
        sa.CheckConstraint("status IN ('queued', 'printed', 'failed')", name="ck_print_jobs_status_known"),
    )
    op.create_index("ix_print_jobs_status_target_printer_id_id", "print_jobs", ["status", "target_printer_id", "id"])
    op.create_index("ix_print_jobs_order_id", "print_jobs", ["order_id"])


def downgrade() -> None:
    op.drop_table("print_jobs")
    op.drop_table("printer_revision")
    op.drop_table("printers")

"""print jobs of kind "report": a service day's X/Z report on a receipt printer

Widens print_jobs' kind CHECK. SQLite cannot change a constraint in place, so the table is rebuilt
(batch mode); nothing references print_jobs, so the rebuild cascades nowhere (see env.py).
Downgrading deletes the report jobs, which the narrower CHECK would refuse.

0015 named the constraint through the naming convention twice (ck_print_jobs_ck_print_jobs_kind_known);
the new one gets the name schema.py's convention gives (ck_print_jobs_kind_known), and a downgrade
puts the old name back.

Revision ID: 0018
Revises: 0017
"""

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

# vocabulary.PRINT_KINDS before and after (migrations keep their own copies).
_BEFORE = "('chit', 'unseen', 'receipt', 'test')"
_AFTER = "('chit', 'unseen', 'receipt', 'test', 'report')"
_OLD_NAME = "ck_print_jobs_ck_print_jobs_kind_known"
_NAME = "ck_print_jobs_kind_known"


def _kinds(dropped: str, name: str, words: str) -> None:
    with op.batch_alter_table("print_jobs") as batch_op:
        batch_op.drop_constraint(op.f(dropped), type_="check")
        batch_op.create_check_constraint(op.f(name), f"kind IN {words}")


def upgrade() -> None:
    _kinds(_OLD_NAME, _NAME, _AFTER)


def downgrade() -> None:
    op.execute("DELETE FROM print_jobs WHERE kind = 'report'")
    _kinds(_NAME, _OLD_NAME, _BEFORE)

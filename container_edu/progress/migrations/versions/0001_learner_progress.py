"""Learners, classes, lesson records, answers and the concept inventory.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "classes",
        sa.Column("code", sa.String(6), primary_key=True),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("teacher_key_hash", sa.String(100), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_table(
        "learners",
        sa.Column("code", sa.String(10), primary_key=True),
        sa.Column("class_code", sa.String(6), sa.ForeignKey("classes.code"), nullable=True),
        sa.Column("nickname", sa.String(40), nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_table(
        "lessons",
        sa.Column("learner", sa.String(10), sa.ForeignKey("learners.code", ondelete="CASCADE"), primary_key=True),
        sa.Column("lesson", sa.String(40), primary_key=True),
        sa.Column("prediction", sa.String(400), nullable=True),
        sa.Column("predicted_at", sa.Float, nullable=True),
        sa.Column("predicted_before_reveal", sa.Boolean, nullable=True),
        sa.Column("revealed_at", sa.Float, nullable=True),
        sa.Column("verified_at", sa.Float, nullable=True),
        sa.Column("verify_passed", sa.Boolean, nullable=True),
    )
    op.create_table(
        "answers",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("learner", sa.String(10), sa.ForeignKey("learners.code", ondelete="CASCADE"), nullable=False),
        sa.Column("lesson", sa.String(40), nullable=False),
        sa.Column("question", sa.Integer, nullable=False),
        sa.Column("option", sa.String(400), nullable=False),
        sa.Column("correct", sa.Boolean, nullable=False),
        sa.Column("at", sa.Float, nullable=False),
    )
    op.create_index("ix_answers_learner", "answers", ["learner"])
    op.create_table(
        "inventory",
        sa.Column("learner", sa.String(10), sa.ForeignKey("learners.code", ondelete="CASCADE"), primary_key=True),
        sa.Column("phase", sa.String(4), primary_key=True),
        sa.Column("answers", sa.Text, nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    for table in ("inventory", "answers", "lessons", "learners", "classes"):
        op.drop_table(table)

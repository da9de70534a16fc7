"""Evaluation suites: named sets of labeled test images, one domain each, never trained on (issue 18).

Revision ID: 0006_suites_evaluation
Revises: 0005
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0006_suites_evaluation"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "suites",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("created_by", sa.String(length=320), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_suites_name"), "suites", ["name"], unique=True)
    op.create_table(
        "suite_sets",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("suite_id", sa.Integer(), nullable=False),
        sa.Column("domain", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=1024), nullable=False),
        sa.ForeignKeyConstraint(["suite_id"], ["suites.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("suite_id", "domain", name="uq_suite_sets_domain"),
    )
    op.create_index(op.f("ix_suite_sets_suite_id"), "suite_sets", ["suite_id"], unique=False)
    op.create_table(
        "suite_images",
        sa.Column("set_id", sa.Integer(), nullable=False),
        sa.Column("image_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["image_id"], ["images.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["set_id"], ["suite_sets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("set_id", "image_id"),
    )
    op.create_index(op.f("ix_suite_images_image_id"), "suite_images", ["image_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_suite_images_image_id"), table_name="suite_images")
    op.drop_table("suite_images")
    op.drop_index(op.f("ix_suite_sets_suite_id"), table_name="suite_sets")
    op.drop_table("suite_sets")
    op.drop_index(op.f("ix_suites_name"), table_name="suites")
    op.drop_table("suites")

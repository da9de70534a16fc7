"""A generation run is a job of the main queue (one at a time per generation, by the job kind's exclusive key):
generation's own lease table goes (issue 20).

Revision ID: 0008_pool_drop_generation_leases
Revises: 0007_team_api_keys_user_id
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0008_pool_drop_generation_leases"
down_revision: str | None = "0007_team_api_keys_user_id"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.drop_table("generation_leases")


def downgrade() -> None:
    op.create_table(
        "generation_leases",
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("host", sa.String(length=256), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("heartbeat", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["generation_jobs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("job_id"),
    )

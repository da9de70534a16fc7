"""API keys belong to a user id that is never reused, and the database deletes them with their user (issue 21).

Every user gets a random id; every key gets its owner's id, with a foreign key ON DELETE CASCADE, so a key goes with
its user however the row goes (`users remove`, a SQL DELETE, a restore), and re-adding the same address makes a new
user without the old keys. Keys whose user is already gone (no row to point at) were dead already and are dropped.

Revision ID: 0007_team_api_keys_user_id
Revises: 0006_suites_evaluation
Create Date: 2026-12-07
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from alembic import op

revision: str = "0007_team_api_keys_user_id"
down_revision: str | None = "0006_suites_evaluation"
branch_labels: str | None = None
depends_on: str | None = None

_users = sa.table("users", sa.column("email", sa.String), sa.column("id", sa.String))
_keys = sa.table("api_keys", sa.column("user_email", sa.String), sa.column("user_id", sa.String))


def upgrade() -> None:
    bind = op.get_bind()
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("id", sa.String(length=32), nullable=True))
    for (email,) in bind.execute(sa.select(_users.c.email)).all():
        bind.execute(_users.update().where(_users.c.email == email).values(id=uuid.uuid4().hex))
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.alter_column("id", existing_type=sa.String(length=32), nullable=False)
        batch_op.create_index(batch_op.f("ix_users_id"), ["id"], unique=True)

    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("user_id", sa.String(length=32), nullable=True))
    owner = sa.select(_users.c.id).where(_users.c.email == _keys.c.user_email).scalar_subquery()
    bind.execute(_keys.update().values(user_id=owner))
    bind.execute(_keys.delete().where(_keys.c.user_id.is_(None)))
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.alter_column("user_id", existing_type=sa.String(length=32), nullable=False)
        batch_op.create_index(batch_op.f("ix_api_keys_user_id"), ["user_id"], unique=False)
        batch_op.create_foreign_key("fk_api_keys_user_id_users", "users", ["user_id"], ["id"], ondelete="CASCADE")


def downgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_constraint("fk_api_keys_user_id_users", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_api_keys_user_id"))
        batch_op.drop_column("user_id")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_users_id"))
        batch_op.drop_column("id")

"""Baseline: the schema as the code created it before migrations (images, extractions, active learning, generation).

A database made by that code has these tables but no `alembic_version`, and may lack the tables of a feature it
never used (they were created on first use). So each table is created only when it is missing: on such a database
this migration adopts what is there and adds the rest; on a new database it creates everything.

Revision ID: 0001
Revises:
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def _missing(table: str) -> bool:
    return not sa.inspect(op.get_bind()).has_table(table)


def upgrade() -> None:
    if _missing("al_audit"):
        op.create_table(
            "al_audit",
            sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
            sa.Column("image_id", sa.Integer(), nullable=False),
            sa.Column("action", sa.String(length=16), nullable=False),
            sa.Column("actor", sa.String(length=128), nullable=False),
            sa.Column("at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("old_value", sa.JSON(), nullable=False),
            sa.Column("new_value", sa.JSON(), nullable=False),
            sa.Column("undone", sa.Boolean(), nullable=False),
            sa.Column("undoes", sa.Integer(), nullable=True),
            sa.PrimaryKeyConstraint("id"),
        )
        with op.batch_alter_table("al_audit", schema=None) as batch_op:
            batch_op.create_index(batch_op.f("ix_al_audit_actor"), ["actor"], unique=False)
            batch_op.create_index(batch_op.f("ix_al_audit_image_id"), ["image_id"], unique=False)
    if _missing("al_rounds"):
        op.create_table(
            "al_rounds",
            sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
            sa.Column("n_labels", sa.Integer(), nullable=False),
            sa.Column("n_held_out", sa.Integer(), nullable=False),
            sa.Column("macro_f1", sa.Float(), nullable=False),
            sa.Column("accuracy", sa.Float(), nullable=False),
            sa.Column("model_id", sa.String(length=128), nullable=False),
            sa.Column("model_name", sa.String(length=64), nullable=False),
            sa.Column("held_out_hash", sa.String(length=32), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("id"),
        )
    if _missing("generation_jobs"):
        op.create_table(
            "generation_jobs",
            sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
            sa.Column("name", sa.String(length=256), nullable=False),
            sa.Column("fingerprint", sa.String(length=64), nullable=False),
            sa.Column("template", sa.JSON(), nullable=False),
            sa.Column("model", sa.String(length=128), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("id"),
        )
        with op.batch_alter_table("generation_jobs", schema=None) as batch_op:
            batch_op.create_index(batch_op.f("ix_generation_jobs_fingerprint"), ["fingerprint"], unique=False)
    if _missing("images"):
        op.create_table(
            "images",
            sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
            sa.Column("sha256", sa.String(length=64), nullable=False),
            sa.Column("path", sa.String(length=512), nullable=False),
            sa.Column("original_name", sa.String(length=512), nullable=False),
            sa.Column("width", sa.Integer(), nullable=False),
            sa.Column("height", sa.Integer(), nullable=False),
            sa.Column("source", sa.String(length=16), nullable=False),
            sa.Column("emotion", sa.String(length=16), nullable=True),
            sa.Column("label_source", sa.String(length=16), nullable=True),
            sa.Column("status", sa.String(length=16), nullable=False),
            sa.Column("person", sa.String(length=256), nullable=True),
            sa.Column("age", sa.String(length=32), nullable=True),
            sa.Column("sex", sa.String(length=32), nullable=True),
            sa.Column("ethnicity", sa.String(length=64), nullable=True),
            sa.Column("tags", sa.JSON(), nullable=False),
            sa.Column("attributes", sa.JSON(), nullable=False),
            sa.Column("version", sa.Integer(), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("id"),
        )
        with op.batch_alter_table("images", schema=None) as batch_op:
            batch_op.create_index(batch_op.f("ix_images_emotion"), ["emotion"], unique=False)
            batch_op.create_index(batch_op.f("ix_images_person"), ["person"], unique=False)
            batch_op.create_index(batch_op.f("ix_images_sha256"), ["sha256"], unique=True)
            batch_op.create_index(batch_op.f("ix_images_source"), ["source"], unique=False)
            batch_op.create_index(batch_op.f("ix_images_status"), ["status"], unique=False)
    if _missing("al_label_failures"):
        op.create_table(
            "al_label_failures",
            sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
            sa.Column("image_id", sa.Integer(), nullable=False),
            sa.Column("model", sa.String(length=128), nullable=False),
            sa.Column("reason", sa.Text(), nullable=False),
            sa.Column("raw", sa.Text(), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.ForeignKeyConstraint(["image_id"], ["images.id"], ondelete="CASCADE"),
            sa.PrimaryKeyConstraint("id"),
        )
        with op.batch_alter_table("al_label_failures", schema=None) as batch_op:
            batch_op.create_index(batch_op.f("ix_al_label_failures_image_id"), ["image_id"], unique=False)
    if _missing("al_proposals"):
        op.create_table(
            "al_proposals",
            sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
            sa.Column("image_id", sa.Integer(), nullable=False),
            sa.Column("model", sa.String(length=128), nullable=False),
            sa.Column("answer", sa.String(length=16), nullable=False),
            sa.Column("confidence", sa.Float(), nullable=False),
            sa.Column("rationale", sa.Text(), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.ForeignKeyConstraint(["image_id"], ["images.id"], ondelete="CASCADE"),
            sa.PrimaryKeyConstraint("id"),
        )
        with op.batch_alter_table("al_proposals", schema=None) as batch_op:
            batch_op.create_index(batch_op.f("ix_al_proposals_image_id"), ["image_id"], unique=False)
    if _missing("al_queue"):
        op.create_table(
            "al_queue",
            sa.Column("image_id", sa.Integer(), nullable=False),
            sa.Column("rank", sa.Integer(), nullable=False),
            sa.Column("score", sa.Float(), nullable=False),
            sa.Column("strategy", sa.String(length=32), nullable=False),
            sa.Column("model_id", sa.String(length=128), nullable=False),
            sa.Column("predicted", sa.String(length=16), nullable=False),
            sa.Column("confidence", sa.Float(), nullable=False),
            sa.Column("probabilities", sa.JSON(), nullable=False),
            sa.Column("skipped", sa.Boolean(), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.ForeignKeyConstraint(["image_id"], ["images.id"], ondelete="CASCADE"),
            sa.PrimaryKeyConstraint("image_id"),
        )
        with op.batch_alter_table("al_queue", schema=None) as batch_op:
            batch_op.create_index(batch_op.f("ix_al_queue_rank"), ["rank"], unique=False)
    if _missing("extractions"):
        op.create_table(
            "extractions",
            sa.Column("image_id", sa.Integer(), nullable=False),
            sa.Column("state", sa.String(length=16), nullable=False),
            sa.Column("reason", sa.Text(), nullable=False),
            sa.Column("num_faces", sa.Integer(), nullable=False),
            sa.Column("landmarks", sa.LargeBinary(), nullable=True),
            sa.Column("blendshapes", sa.LargeBinary(), nullable=True),
            sa.Column("transform", sa.LargeBinary(), nullable=True),
            sa.Column("bbox_x0", sa.Float(), nullable=True),
            sa.Column("bbox_y0", sa.Float(), nullable=True),
            sa.Column("bbox_x1", sa.Float(), nullable=True),
            sa.Column("bbox_y1", sa.Float(), nullable=True),
            sa.Column("model_sha256", sa.String(length=64), nullable=False),
            sa.Column("extracted_at", sa.DateTime(timezone=True), nullable=False),
            sa.ForeignKeyConstraint(["image_id"], ["images.id"], ondelete="CASCADE"),
            sa.PrimaryKeyConstraint("image_id"),
        )
        with op.batch_alter_table("extractions", schema=None) as batch_op:
            batch_op.create_index(batch_op.f("ix_extractions_state"), ["state"], unique=False)
    if _missing("generation_items"):
        op.create_table(
            "generation_items",
            sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
            sa.Column("job_id", sa.Integer(), nullable=False),
            sa.Column("key", sa.String(length=128), nullable=False),
            sa.Column("position", sa.Integer(), nullable=False),
            sa.Column("persona", sa.String(length=64), nullable=False),
            sa.Column("emotion", sa.String(length=16), nullable=False),
            sa.Column("seed", sa.Integer(), nullable=False),
            sa.Column("attributes", sa.JSON(), nullable=False),
            sa.Column("prompt", sa.Text(), nullable=False),
            sa.Column("file_name", sa.String(length=256), nullable=False),
            sa.Column("state", sa.String(length=16), nullable=False),
            sa.Column("reason", sa.Text(), nullable=False),
            sa.Column("attempts", sa.Integer(), nullable=False),
            sa.Column("image_id", sa.Integer(), nullable=True),
            sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
            sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
            sa.ForeignKeyConstraint(["image_id"], ["images.id"], ondelete="SET NULL"),
            sa.ForeignKeyConstraint(["job_id"], ["generation_jobs.id"], ondelete="CASCADE"),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("file_name"),
            sa.UniqueConstraint("job_id", "key", name="uq_generation_item_key"),
        )
        with op.batch_alter_table("generation_items", schema=None) as batch_op:
            batch_op.create_index(batch_op.f("ix_generation_items_job_id"), ["job_id"], unique=False)
            batch_op.create_index(batch_op.f("ix_generation_items_state"), ["state"], unique=False)
    if _missing("generation_leases"):
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


def downgrade() -> None:
    op.drop_table("generation_leases")
    with op.batch_alter_table("generation_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_generation_items_state"))
        batch_op.drop_index(batch_op.f("ix_generation_items_job_id"))

    op.drop_table("generation_items")
    with op.batch_alter_table("extractions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_extractions_state"))

    op.drop_table("extractions")
    with op.batch_alter_table("al_queue", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_al_queue_rank"))

    op.drop_table("al_queue")
    with op.batch_alter_table("al_proposals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_al_proposals_image_id"))

    op.drop_table("al_proposals")
    with op.batch_alter_table("al_label_failures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_al_label_failures_image_id"))

    op.drop_table("al_label_failures")
    with op.batch_alter_table("images", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_images_status"))
        batch_op.drop_index(batch_op.f("ix_images_source"))
        batch_op.drop_index(batch_op.f("ix_images_sha256"))
        batch_op.drop_index(batch_op.f("ix_images_person"))
        batch_op.drop_index(batch_op.f("ix_images_emotion"))

    op.drop_table("images")
    with op.batch_alter_table("generation_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_generation_jobs_fingerprint"))

    op.drop_table("generation_jobs")
    op.drop_table("al_rounds")
    with op.batch_alter_table("al_audit", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_al_audit_image_id"))
        batch_op.drop_index(batch_op.f("ix_al_audit_actor"))

    op.drop_table("al_audit")

"""Synthetic portraits with Gemini: templates, prompts, the image call and resumable jobs (client: `core.gemini`)."""

from core.db import register_tables

# Job and item tables are created with every engine, like the store's own tables.
register_tables("core.generation.tables")

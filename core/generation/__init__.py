"""Synthetic portraits with Gemini: templates, prompts, a rate-limited async client and resumable jobs."""

from core.db import register_tables

# Job and item tables are created with every engine, like the store's own tables.
register_tables("core.generation.tables")

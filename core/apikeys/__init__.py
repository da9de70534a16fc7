"""REST API keys: created for a user by the operator, stored only as a hash, checked on every API request."""

from core.apikeys.keys import ApiKeyInfo, ApiKeys, NewApiKey
from core.db import register_tables

# The key table is created with every engine, like the store's own tables.
register_tables("core.apikeys.tables")

__all__ = ["ApiKeyInfo", "ApiKeys", "NewApiKey"]

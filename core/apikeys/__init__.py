"""REST API keys: created for a user by the operator, stored only as a hash, checked on every API request."""

from core.apikeys.keys import ApiKeyInfo, ApiKeys, NewApiKey

__all__ = ["ApiKeyInfo", "ApiKeys", "NewApiKey"]

"""API keys: create (shown once), list and revoke your keys for the REST API; admins manage everyone's."""

from __future__ import annotations

from core.auth import current_user
from ui.api_keys import api_keys_section
from ui.common import page_setup

page_setup("API keys", icon=":material/key:")  # stops the page unless someone is signed in
user = current_user()
assert user is not None
api_keys_section(user)

"""Expression Studio core: all the logic behind the dashboard, the CLI and the REST API. Never imports streamlit."""

__version__ = "0.1.0"

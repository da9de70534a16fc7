"""Streamlit-side helpers shared by the pages: cached loaders and small widgets. Logic stays in `core`."""

"""The fake Gemini server fixture for the generation tests (other areas import it the same way)."""

from tests.fakes.gemini_server import fake_gemini

__all__ = ["fake_gemini"]

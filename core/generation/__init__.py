"""Synthetic portraits with Gemini: templates, prompts, the image call and resumable jobs (client: `core.gemini`)."""

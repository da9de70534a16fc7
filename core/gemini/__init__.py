"""Gemini access shared by image generation (`core.generation`) and label proposals (`core.active_learning.labeling`).

- `core.gemini.client`: the API key from Settings (or the page's session key) and the google-genai client.
- `core.gemini.ratelimit`: bounded concurrency, a requests-per-minute limiter, the retry policy the SDK applies
  (`HttpRetryOptions`) and error classification.
"""

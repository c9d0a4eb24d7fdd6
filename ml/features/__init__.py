"""Feature transformers and the configured feature pipeline."""

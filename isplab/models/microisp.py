"""placeholder, written by the models helper."""

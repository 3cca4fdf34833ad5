"""One module per conversation."""

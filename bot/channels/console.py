"""Console channel: filled in by the conversation work."""

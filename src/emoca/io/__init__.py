"""Input and output: atomic file writes and mesh export."""

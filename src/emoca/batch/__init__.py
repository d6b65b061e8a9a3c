"""Batches of inputs: expansion, one-line reports, and reconstruction jobs shared by the CLI and Ray Data."""

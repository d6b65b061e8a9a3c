"""Training entry points; every run saves its config beside its weights."""

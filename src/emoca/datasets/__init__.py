"""Dataset readers for the official layouts (FER+, AffectNet)."""

"""Losses for fitting and training, one module each. All take batched tensors and return (B,) per-face
values (sum or mean them as the caller needs), so a batch of faces can be fitted at once."""

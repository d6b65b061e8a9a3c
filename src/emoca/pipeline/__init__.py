"""Photos and videos to reconstructed faces: detection, crops, a predictor, decoding (no file writing)."""

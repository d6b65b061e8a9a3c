"""Analysis-by-synthesis fitting of the face model to photos (and videos)."""

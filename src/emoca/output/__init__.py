"""Writing a face's files and reading them back: the writer (meshes, renders, overlays), params.json, the
overlay drawing, captures read back from params.json / params.jsonl."""

"""`emoca export`: a capture (params.json or params.jsonl) in the formats animation tools read; the formats
are described and written in `emoca.animation.exports`."""

from pathlib import Path

from emoca.animation.exports import export_arkit_csv, export_flame_npz, export_glb, export_obj_sequence
from emoca.output.capture import Capture


def run_export(input_path: str, fmt: str, out: str, pose: bool, flame: str | None) -> int:
    """Export one capture; returns the exit status (errors raise `InputError`)."""
    capture = Capture(input_path)
    out_path = Path(out)
    if fmt == "arkit-csv":
        count = export_arkit_csv(capture, out_path, pose)
    elif fmt == "glb":
        count = export_glb(capture, out_path, pose)
    elif fmt == "obj-seq":
        count = export_obj_sequence(capture, out_path, pose, flame)
    else:
        count = export_flame_npz(capture, out_path, pose)
    print(f"{out_path}: {count} frame{'s' if count != 1 else ''} ({fmt})")
    return 0


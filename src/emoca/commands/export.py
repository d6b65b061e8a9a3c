"""`emoca export`: a capture (params.json or params.jsonl) in the formats animation tools read.

- `arkit-csv`: a Live Link Face take (`emoca.animation.arkit_csv`); ICT's 53 weights as ARKit's 52
  (`emoca.facemodel.arkit`: browInnerUp and cheekPuff are the means of ICT's halves, tongueOut is 0).
- `glb`: the person's whole head (face, head and neck, eye sockets, eyeballs), the 53 expressions and 4
  gaze shapes as morph targets, and an animation of their weights and the head rotation at the video's
  frame rate (`emoca.animation.puppet`).
- `obj-seq`: a folder with one OBJ per frame (`frame_000000.obj`...), model units, head rotation applied
  unless `pose` is off.
- `flame-npz` (FLAME captures only): `shape` (S,), `expression` (N, E), `pose` (N, 15) in FLAME 2020's
  layout (global, neck, jaw, left eye, right eye; axis-angle radians), `trans` (N, 3), `times` (N,), `fps`.

A frame without a face holds the last face before it (frames before the first face hold the first).
"""

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


"""emoca: CPU-first EMOCA, emotion-driven monocular 3D face capture and animation.

The public surface is small: `reconstruct(image) -> list[Face]` (the whole pipeline, `emoca.pipeline`),
`load_model()` for the face model, and the `emoca` command line.
"""

from emoca.facemodel import load_model

__all__ = ["load_model", "reconstruct"]
__version__ = "0.1.0"


def reconstruct(image):
    """Every face of one photo ((H, W, 3) uint8 RGB or a path) with the default reconstructor (ICT, CPU,
    loaded on the first call): a list of `emoca.pipeline.photo.Face`, best detection first."""
    from emoca.pipeline.photo import reconstruct as run

    return run(image)

"""emoca: CPU-first EMOCA, emotion-driven monocular 3D face capture and animation.

The public surface is small: `load_model()` for the default face model and the `emoca` command line.
"""

from emoca.facemodel import load_model

__all__ = ["load_model"]
__version__ = "0.1.0"

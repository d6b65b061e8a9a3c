"""Parametric face models behind one interface: ICT-FaceKit (default) and a user's FLAME file."""

from emoca.facemodel.base import FaceModel, FaceOutput
from emoca.facemodel.ict import ICTConfig, ICTFaceModel


def load_model(name: str = "ict", path: str | None = None) -> FaceModel:
    """Load a face model by name: "ict" (default; `path` is the .npz or OBJ folder) or "flame"
    (`path` is the user's FLAME `generic_model.pkl`)."""
    if name == "ict":
        return ICTFaceModel(ICTConfig(path=path))
    if name == "flame":
        from emoca.facemodel.flame import FLAMEConfig, FLAMEFaceModel

        if path is None:
            raise ValueError("FLAME is not shipped: pass the path of your generic_model.pkl (--flame PKL)")
        return FLAMEFaceModel(FLAMEConfig(path=path))
    raise ValueError(f"unknown face model {name!r}; use 'ict' or 'flame'")


__all__ = ["FaceModel", "FaceOutput", "ICTConfig", "ICTFaceModel", "load_model"]

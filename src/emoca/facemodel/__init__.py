"""Parametric face models behind one interface: ICT-FaceKit (default) and a user's FLAME file."""

from emoca.errors import InputError
from emoca.facemodel.base import FaceModel, FaceOutput
from emoca.facemodel.ict import ICTConfig, ICTFaceModel

MODEL_NAMES = ("ict", "flame")


def load_model(name: str = "ict", path: str | None = None) -> FaceModel:
    """Load a face model by name: "ict" (default; `path` is the .npz or OBJ folder, else located as
    `emoca.facemodel.ict_files.locate_ict` says) or "flame" (`path` is the user's FLAME
    `generic_model.pkl`, with DECA's 68-point `landmark_embedding.npy` beside it).

    Raises:
        InputError: an unknown name, FLAME without a file, a file that is not the model, or a FLAME
            without its 68-point embedding (one line naming the file and the reason).
    """
    if name == "ict":
        return ICTFaceModel(ICTConfig(path=path))
    if name != "flame":
        raise InputError("--model", f"unknown face model {name!r}; use one of {', '.join(MODEL_NAMES)}")
    from emoca.facemodel.flame import FLAMEConfig, FLAMEFaceModel

    if path is None:
        raise InputError("--flame", "--model flame needs your FLAME generic_model.pkl (FLAME is never shipped)")
    model = FLAMEFaceModel(FLAMEConfig(path=path))
    if "ibug" not in model.embedded:
        raise InputError(path, "no 68-point landmark embedding beside the model: put DECA's "
                               "landmark_embedding.npy next to it")
    return model


__all__ = ["FaceModel", "FaceOutput", "ICTConfig", "ICTFaceModel", "load_model"]

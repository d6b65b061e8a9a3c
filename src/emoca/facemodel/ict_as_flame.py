"""Write the ICT model in FLAME's file layout (`generic_model.pkl` + DECA's `landmark_embedding.npy`).

FLAME itself may not be shipped, so the FLAME code path (loading, LBS, fitting, output) is exercised
and demonstrated on this stand-in: ICT's identity and expression blendshapes as FLAME's `shapedirs`
(identity in columns 0-99 of 300, expression from column 300; metres), no pose correctives, and the
five FLAME joints (root, neck, jaw, left eye, right eye) placed on ICT's geometry. The jaw joint sits
between the jaw's ends (68-point landmarks 0 and 16); each vertex follows it in proportion to how far
ICT's `jawOpen` shape moves it (full weight from `JAW_FULL_WEIGHT` of the largest displacement: chin
and lower lip 1, mouth corners ~0.4, upper lip ~0.07); each eyeball follows its eye joint.

Run: `python -m emoca.facemodel.ict_as_flame OUT_FOLDER` (then `emoca reconstruct --model flame
--flame OUT_FOLDER/generic_model.pkl ...`).
"""

import argparse
import pickle
from pathlib import Path

import numpy as np

from emoca.facemodel.ict import ICTFaceModel

JAW_FULL_WEIGHT = 0.9
N_SHAPE_COLUMNS = 300  # FLAME's expression columns start here


def flame_arrays(model: ICTFaceModel) -> dict[str, np.ndarray]:
    """FLAME's pickle keys for `model` (float32, metres)."""
    template = model.template.numpy()
    n_vertices = len(template)
    shapedirs = np.zeros((n_vertices, 3, N_SHAPE_COLUMNS + len(model.expression_names)), np.float32)
    shapedirs[:, :, :model.n_identity] = model.identity_basis.numpy().transpose(1, 2, 0) / 100
    shapedirs[:, :, N_SHAPE_COLUMNS:] = model.expression_basis.numpy().transpose(1, 2, 0) / 100

    landmarks = model.surface_landmarks(model.template[None], "ibug")[0].numpy()
    eyes = [model.regions["eyeball_left"].numpy(), model.regions["eyeball_right"].numpy()]
    neck = model.regions["head_neck"].numpy() & (template[:, 1] < landmarks[8, 1])
    regressor = np.zeros((5, n_vertices), np.float32)
    regressor[0] = 1 / n_vertices  # root: the head's centroid (the root joint is never rotated)
    regressor[1, neck] = 1 / neck.sum()
    jaw_ends = model.ibug_corners[[0, 16]].numpy()  # (2, 3) corner vertices of the jaw's end points
    regressor[2, jaw_ends.reshape(-1)] = 1 / jaw_ends.size
    for joint, mask in zip((3, 4), eyes, strict=True):
        regressor[joint, mask] = 1 / mask.sum()

    opening = np.linalg.norm(model.expression_basis[model.expression_index("jawOpen")].numpy(), axis=-1)
    weights = np.zeros((n_vertices, 5), np.float32)
    weights[:, 2] = np.clip(opening / (JAW_FULL_WEIGHT * opening.max()), 0, 1) * ~(eyes[0] | eyes[1])
    weights[:, 3], weights[:, 4] = eyes[0], eyes[1]
    weights[:, 0] = 1 - weights[:, 2:].sum(1)
    return {"v_template": template / 100, "f": model.triangles.numpy().astype(np.uint32), "shapedirs": shapedirs,
            "posedirs": np.zeros((n_vertices, 3, 36), np.float32), "J_regressor": regressor, "weights": weights,
            "kintree_table": np.array([[2**32 - 1, 0, 1, 1, 1], [0, 1, 2, 3, 4]], np.int64)}


def landmark_embedding(model: ICTFaceModel) -> dict[str, np.ndarray]:
    """ICT's 68-point embedding as DECA's `full_lmk_faces_idx` (1, 68) and `full_lmk_bary_coords` (1, 68, 3)."""
    triangles = model.triangles.numpy()
    lookup = {tuple(sorted(t)): i for i, t in enumerate(triangles.tolist())}
    faces, bary = [], []
    for corners, weights in zip(model.ibug_corners.numpy(), model.ibug_barycentric.numpy(), strict=True):
        face = lookup[tuple(sorted(corners.tolist()))]
        order = [corners.tolist().index(v) for v in triangles[face]]
        faces.append(face)
        bary.append(weights[order])
    return {"full_lmk_faces_idx": np.asarray(faces, np.int64)[None],
            "full_lmk_bary_coords": np.asarray(bary, np.float32)[None]}


def write_ict_as_flame(folder: str | Path, model: ICTFaceModel | None = None) -> Path:
    """Write `folder`/generic_model.pkl and `folder`/landmark_embedding.npy; returns the model's path."""
    model = model or ICTFaceModel()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "generic_model.pkl"
    path.write_bytes(pickle.dumps(flame_arrays(model), protocol=4))
    np.save(folder / "landmark_embedding.npy", np.array(landmark_embedding(model), dtype=object), allow_pickle=True)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder")
    print(write_ict_as_flame(parser.parse_args().folder))


if __name__ == "__main__":
    main()

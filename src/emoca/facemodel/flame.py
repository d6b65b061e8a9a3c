"""FLAME (Li et al. 2017) from the user's own `generic_model.pkl` (2020 or 2023): never shipped.

Linear blend skinning with the root, neck, jaw and two eye joints, pose-corrective blendshapes, and the
68 landmarks from a landmark embedding (DECA's `landmark_embedding.npy`, or a `.pkl`/`.npy` dict with
68 faces + barycentrics). Units are metres; axes as ICT: +x the subject's left, +y up, +z forward.
The head rotation is applied about the model origin after skinning, as for every `FaceModel`.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from emoca.errors import InputError
from emoca.facemodel.base import FaceModel, FaceOutput
from emoca.facemodel.geometry import axis_angle_to_matrix, inside_polygon, rigid_transform
from emoca.facemodel.safe_pickle import plain_arrays, safe_load, safe_load_npy

REQUIRED_KEYS = ("v_template", "f", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table")
EMBEDDING_NAMES = ("landmark_embedding.npy", "landmark_embedding.pkl")


@dataclass
class FLAMEConfig:
    """path: the FLAME `generic_model.pkl`. landmark_embedding: 68-point embedding file; None looks for
    `landmark_embedding.npy`/`.pkl` beside the model. n_shape, n_expression: coefficients used."""

    path: str
    landmark_embedding: str | None = None
    n_shape: int = 300
    n_expression: int = 100


def load_flame_arrays(path: str | Path) -> dict[str, np.ndarray]:
    """Read a FLAME pickle safely into plain arrays (sparse J_regressor made dense).

    Raises:
        InputError: not a FLAME model (keys missing or wrong shapes), or a refused/corrupt pickle.
    """
    path = Path(path)
    data = safe_load(path)
    if not isinstance(data, dict):
        raise InputError(path, f"not a FLAME model: the pickle holds a {type(data).__name__}, not a dict")
    missing = [key for key in REQUIRED_KEYS if key not in data]
    if missing:
        raise InputError(path, f"not a FLAME model: keys missing: {', '.join(missing)}")
    data = plain_arrays({key: data[key] for key in REQUIRED_KEYS}, path)
    regressor = data["J_regressor"]
    data["J_regressor"] = np.asarray(regressor.todense() if hasattr(regressor, "todense") else regressor)
    arrays = {key: np.asarray(value) for key, value in data.items()}
    n = arrays["v_template"].shape[0]
    n_joints = arrays["kintree_table"].shape[1]
    expected = {"v_template": (n, 3), "weights": (n, n_joints), "J_regressor": (n_joints, n)}
    for key, shape in expected.items():
        if arrays[key].shape != shape:
            raise InputError(path, f"not a FLAME model: {key} has shape {arrays[key].shape}, expected {shape}")
    if arrays["shapedirs"].shape[:2] != (n, 3) or arrays["posedirs"].shape[:2] != (n, 3):
        raise InputError(path, "not a FLAME model: shapedirs/posedirs must be (V, 3, K)")
    return arrays


def load_landmark_embedding(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """68-point embedding -> (faces (68,), barycentric (68, 3)).

    Accepts DECA's dict (`full_lmk_faces_idx`, `full_lmk_bary_coords`) or a dict with `lmk_face_idx`
    and `lmk_b_coords` holding 68 points, as `.npy` (pickled dict) or `.pkl`.
    """
    path = Path(path)
    data = safe_load_npy(path) if path.suffix == ".npy" else safe_load(path)
    if not isinstance(data, dict):
        raise InputError(path, "not a landmark embedding: expected a dict of arrays")
    data = plain_arrays(data, path)
    for faces_key, bary_key in (("full_lmk_faces_idx", "full_lmk_bary_coords"), ("lmk_face_idx", "lmk_b_coords")):
        if faces_key in data and bary_key in data:
            faces = np.asarray(data[faces_key]).reshape(-1).astype(np.int64)
            bary = np.asarray(data[bary_key], np.float32).reshape(-1, 3)
            if len(faces) != 68 or len(bary) != 68:
                raise InputError(path, f"landmark embedding has {len(faces)} points; 68 are needed "
                                       "(DECA's landmark_embedding.npy has them)")
            return faces, bary
    raise InputError(path, "not a landmark embedding: no (full_)lmk face index and barycentric arrays")


def _parents(kintree_table: np.ndarray) -> list[int]:
    parents = kintree_table[0].astype(np.int64).tolist()
    return [-1 if i == 0 else int(p) for i, p in enumerate(parents)]


def skinning_transforms(rotations: torch.Tensor, joints: torch.Tensor, parents: list[int]) -> torch.Tensor:
    """Per-joint rigid transforms of linear blend skinning, relative to the rest pose.

    Args:
        rotations: (B, J, 3, 3) local joint rotations.
        joints: (B, J, 3) rest-pose joint locations.
        parents: parent index per joint (-1 for the root); parents come before children.
    Returns:
        (B, J, 3, 4) transforms [R | t] mapping rest-pose points to posed points.
    """
    world_r, world_t = [], []
    for j, parent in enumerate(parents):
        if parent < 0:
            world_r.append(rotations[:, j])
            world_t.append(joints[:, j])
        else:
            world_r.append(world_r[parent] @ rotations[:, j])
            offset = joints[:, j] - joints[:, parent]
            world_t.append(world_t[parent] + (world_r[parent] @ offset[..., None])[..., 0])
    r = torch.stack(world_r, 1)
    t = torch.stack(world_t, 1) - (r @ joints[..., None])[..., 0]  # remove the rest-pose joint location
    return torch.cat([r, t[..., None]], -1)


class FLAMEFaceModel(FaceModel):
    """FLAME as a `FaceModel`.

    Parameters of `forward` (B = batch): identity (B, n_shape) and expression (B, n_expression) PCA
    coefficients; rotation (B, 3) axis-angle radians about the origin; translation (B, 3) metres;
    optional neck (B, 3), jaw (B, 3) and eyes (B, 6) [left, right] axis-angle joint rotations.
    """

    units = "m"

    def __init__(self, config: FLAMEConfig) -> None:
        super().__init__()
        arrays = load_flame_arrays(config.path)
        self.config = config
        shapedirs = arrays["shapedirs"].astype(np.float32)
        n_shape = min(config.n_shape, shapedirs.shape[2])
        n_expression = min(config.n_expression, max(shapedirs.shape[2] - 300, 0))
        self.n_identity = n_shape
        self.expression_names = [f"expression{i:03d}" for i in range(n_expression)]
        as_tensor = lambda a: torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))  # noqa: E731
        self.register_buffer("template", as_tensor(arrays["v_template"]))
        self.register_buffer("identity_basis", as_tensor(shapedirs[:, :, :n_shape].transpose(2, 0, 1)))
        self.register_buffer("expression_basis", as_tensor(shapedirs[:, :, 300:300 + n_expression].transpose(2, 0, 1)))
        posedirs = arrays["posedirs"]
        self.register_buffer("pose_basis", as_tensor(posedirs.reshape(-1, posedirs.shape[2]).T))  # (P, V*3)
        self.register_buffer("joint_regressor", as_tensor(arrays["J_regressor"]))
        self.register_buffer("skinning_weights", as_tensor(arrays["weights"]))
        self.register_buffer("triangles", torch.from_numpy(arrays["f"].astype(np.int64)))
        self.parents = _parents(arrays["kintree_table"])
        self.regions = {"face": torch.ones(self.n_vertices, dtype=torch.bool), **self._eyeballs()}
        self.uv = None
        self.triangles_uv = None
        embedding = config.landmark_embedding or next(
            (str(Path(config.path).with_name(n)) for n in EMBEDDING_NAMES if Path(config.path).with_name(n).is_file()),
            None)
        self.embedding_path = None if embedding is None else Path(embedding)  # the 68-point embedding read
        self.has_landmarks = embedding is not None
        self.embedded = []
        if self.has_landmarks:
            faces, bary = load_landmark_embedding(embedding)
            self.register_buffer("landmark_triangles", torch.from_numpy(faces))
            self.register_buffer("landmark_barycentric", torch.from_numpy(bary))
            self.register_buffer("ibug_corners", self.triangles[self.landmark_triangles])
            self.register_buffer("ibug_barycentric", self.landmark_barycentric)
            self.embedded.append("ibug")
            self.regions["face"] = self._face_region()

    def _eyeballs(self) -> dict[str, torch.Tensor]:
        """`eyeball_left`/`eyeball_right` (subject's left is +x): vertices skinned mostly to an eye joint."""
        masks = [self.skinning_weights[:, joint] > 0.5 for joint in (3, 4) if joint < len(self.parents)]
        masks = [mask for mask in masks if mask.any()]
        if len(masks) != 2:
            return {}
        left_first = self.template[masks[0], 0].mean() > self.template[masks[1], 0].mean()
        left, right = masks if left_first else masks[::-1]
        return {"eyeball_left": left, "eyeball_right": right}

    def _face_region(self) -> torch.Tensor:
        """(V,) bool: the face (FLAME's pickle has no region masks), from the 68 points on the template:
        seen from the front, inside the jawline closed over the forehead (raised 0.7 x the eye-to-chin
        height above the brows' ends); in front of the jaw's ends less 2 cm; not eyeball or neck."""
        points = self.surface_landmarks(self.template[None], "ibug")[0].numpy()
        raise_by = 0.7 * (points[36:48, 1].mean() - points[8, 1])
        outline = np.concatenate([points[:17, :2], points[[26, 17], :2] + [0.0, raise_by]])
        template = self.template.numpy()
        inside = inside_polygon(outline, template[:, :2])
        in_front = template[:, 2] > min(points[0, 2], points[16, 2]) - 2.0 / self.cm_per_unit
        neck = self.skinning_weights[:, 1].numpy() > 0.5
        eyes = np.zeros(len(template), bool)
        for name in ("eyeball_left", "eyeball_right"):
            if name in self.regions:
                eyes |= self.regions[name].numpy()
        return torch.from_numpy(inside & in_front & ~neck & ~eyes)

    def forward(self, identity: torch.Tensor, expression: torch.Tensor, rotation: torch.Tensor,
                translation: torch.Tensor, neck: torch.Tensor | None = None, jaw: torch.Tensor | None = None,
                eyes: torch.Tensor | None = None) -> FaceOutput:
        """Posed vertices (metres) and, when an embedding was given, the 68 landmarks."""
        batch = identity.shape[0]
        zeros = identity.new_zeros(batch, 3)
        shaped = (self.template + torch.einsum("bk,kvc->bvc", identity, self.identity_basis)
                  + torch.einsum("bk,kvc->bvc", expression, self.expression_basis))
        joints = torch.einsum("jv,bvc->bjc", self.joint_regressor, shaped)
        eyes = identity.new_zeros(batch, 6) if eyes is None else eyes
        # The root joint stays unrotated here: the head rotation is applied about the origin below.
        local = torch.stack([zeros, zeros if neck is None else neck, zeros if jaw is None else jaw,
                             eyes[:, :3], eyes[:, 3:]], 1)[:, :len(self.parents)]
        rotations = axis_angle_to_matrix(local)
        eye3 = torch.eye(3, dtype=shaped.dtype, device=shaped.device)
        pose_feature = (rotations[:, 1:] - eye3).reshape(batch, -1)
        posed = shaped + (pose_feature @ self.pose_basis).reshape(batch, -1, 3)
        joint_transforms = skinning_transforms(rotations, joints, self.parents)
        transforms = torch.einsum("vj,bjrc->bvrc", self.skinning_weights, joint_transforms)
        vertices = (transforms[..., :3] @ posed[..., None])[..., 0] + transforms[..., 3]
        vertices = rigid_transform(vertices, rotation, translation)
        landmarks = self.landmarks_68(vertices) if self.has_landmarks else None
        return FaceOutput(vertices=vertices, landmarks_68=landmarks)

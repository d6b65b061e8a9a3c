"""The ICT-FaceKit face model (default): linear identity and expression blendshapes, rigid pose, eye gaze.

Units are centimetres; axes: +x the subject's left, +y up, +z out of the face (nose tip at z ~ 13).
Only the regions reconstruction needs are kept in the render mesh (see `ICTConfig.regions`).
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from emoca.facemodel.base import FaceModel, FaceOutput
from emoca.facemodel.geometry import eye_rotation, rigid_transform, sphere_centre
from emoca.facemodel.ict_files import locate_ict, read_ict

LANDMARK_EMBEDDING = Path(__file__).resolve().parent / "data" / "ict_landmark_embedding.npz"

# Polygon ranges of ICT-FaceKit regions (inclusive, from its documentation).
REGION_POLYGONS: dict[str, list[tuple[int, int]]] = {
    "face": [(0, 9229)],
    "head_neck": [(9230, 11143)],
    "mouth_socket": [(11144, 13225)],
    "eye_sockets": [(13226, 13629), (13630, 14033)],
    "eyeballs": [(21496, 23093), (23094, 24691)],
}
# Vertex ranges (inclusive) used for region masks and the eyes' rotation.
REGION_VERTICES: dict[str, list[tuple[int, int]]] = {
    "face": [(0, 9408)],
    "narrow_face": [(0, 6705)],
    "head_neck": [(9409, 11247)],
    "mouth_socket": [(11248, 13293)],
    "eye_sockets": [(13294, 14061)],
    "eyeball_left": [(21451, 23020)],
    "eyeball_right": [(23021, 24590)],
    "iris": [(22221, 23020), (23791, 24590)],
}
DEFAULT_REGIONS = ("face", "head_neck", "eye_sockets", "eyeballs")

# The 68 iBUG points as ICT vertices (0-based), and the jawline substitutes a silhouette-following
# detector matches better on turned faces (ICT-FaceKit documentation).
LANDMARK_VERTICES = (
    1225, 1888, 1052, 367, 1719, 1722, 2199, 1447, 966, 3661, 4390, 3927, 3924, 2608, 3272, 4088, 3443,
    268, 493, 1914, 2044, 1401, 3615, 4240, 4114, 2734, 2509, 978, 4527, 4942, 4857, 1140, 2075, 1147,
    4269, 3360, 1507, 1542, 1537, 1528, 1518, 1511, 3742, 3751, 3756, 3721, 3725, 3732, 5708, 5695, 2081,
    0, 4275, 6200, 6213, 6346, 6461, 5518, 5957, 5841, 5702, 5711, 5533, 6216, 6207, 6470, 5517, 5966,
)
JAWLINE_RIGHT = (1278, 1272, 12, 1834, 243, 781, 2199, 1447)  # substitutes points 0-7
JAWLINE_LEFT = (3661, 4390, 3022, 2484, 4036, 2253, 3490, 3496)  # substitutes points 9-16
JAWLINE_RIGHT_EXTENDED = (1280, 1278, 1275, 1272, 1248, 12, 820, 1834, 1902, 243, 844, 781, 1673, 2199,
                          801, 1447, 800)
JAWLINE_LEFT_EXTENDED = (3041, 3661, 3042, 4390, 3880, 3022, 3085, 2484, 4102, 4036, 3061, 2253, 3466,
                         3490, 3493, 3496, 3498)

# Gaze convention: a gaze angle of GAZE_FULL_WEIGHT_RAD gives weight 1 on the matching eyeLook shape.
GAZE_FULL_WEIGHT_RAD = float(np.deg2rad(30.0))
EYE_LOOK = tuple(f"eyeLook{where}_{side}" for where in ("Down", "In", "Out", "Up") for side in ("L", "R"))


@dataclass
class ICTConfig:
    """How the ICT model is built.

    path: `.npz` or FaceXModel folder; None means `$EMOCA_ICT`, then the shared copy.
    regions: polygon regions in the render mesh; add "mouth_socket" for the mouth interior.
    """

    path: str | None = None
    regions: tuple[str, ...] = DEFAULT_REGIONS


def _ranges_to_index(ranges: list[tuple[int, int]]) -> np.ndarray:
    return np.concatenate([np.arange(a, b + 1) for a, b in ranges])


def triangulate(polygons: np.ndarray) -> np.ndarray:
    """(F, 4) quads with -1 padding for triangles -> (T, 3) triangles, (a,b,c,d) split as abc + acd."""
    is_quad = polygons[:, 3] >= 0
    first = polygons[:, :3]
    second = polygons[is_quad][:, [0, 2, 3]]
    return np.concatenate([first, second])


class ICTFaceModel(FaceModel):
    """ICT-FaceKit as a `FaceModel`.

    Parameters of `forward` (B = batch):
        identity: (B, K) weights in standard deviations of the identity PCA (unit Gaussian prior).
        expression: (B, 53) blendshape weights, meaningful in [0, 1] (not clamped here, so fitting can
            choose how to constrain them), in `expression_names` order.
        rotation: (B, 3) head rotation, axis-angle radians, about the model origin.
        translation: (B, 3) cm, applied after the rotation.
        gaze: optional (B, 2) [yaw, pitch] of both eyes, radians; + yaw looks to the subject's left
            (+x), + pitch looks up. It rotates the eyeballs and adds the matching eyeLook weights
            (`GAZE_FULL_WEIGHT_RAD` per unit weight) so the lids follow.
    """

    units = "cm"

    def __init__(self, config: ICTConfig | None = None) -> None:
        super().__init__()
        config = config or ICTConfig()
        source = locate_ict(config.path)
        arrays = read_ict(source)
        self.source = Path(source)
        self.config = config
        unknown = set(config.regions) - set(REGION_POLYGONS)
        if unknown:
            raise ValueError(f"unknown ICT regions {sorted(unknown)}; known: {sorted(REGION_POLYGONS)}")

        polygon_ids = _ranges_to_index([r for name in config.regions for r in REGION_POLYGONS[name]])
        triangles_full = triangulate(arrays["faces"][polygon_ids])
        triangles_uv = triangulate(arrays["faces_uv"][polygon_ids])
        kept = np.unique(triangles_full)  # original vertex ids of the render mesh, sorted
        compact = np.full(arrays["neutral"].shape[0], -1, np.int64)
        compact[kept] = np.arange(len(kept))

        self.expression_names = [str(n) for n in arrays["expression_names"]]
        self.n_identity = int(arrays["identity_deltas"].shape[0])
        as_tensor = lambda a: torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))  # noqa: E731
        self.register_buffer("vertex_ids", torch.from_numpy(kept))
        self.register_buffer("template", as_tensor(arrays["neutral"][kept]))
        self.register_buffer("identity_basis", as_tensor(arrays["identity_deltas"][:, kept]))
        self.register_buffer("expression_basis", as_tensor(arrays["expression_deltas"][:, kept]))
        self.register_buffer("triangles", torch.from_numpy(compact[triangles_full]))
        self.register_buffer("uv", as_tensor(arrays["uv"]))
        self.register_buffer("triangles_uv", torch.from_numpy(triangles_uv.astype(np.int64)))

        self.regions = {}
        for name, ranges in REGION_VERTICES.items():
            mask = np.zeros(len(kept), bool)
            ids = compact[_ranges_to_index(ranges)]
            mask[ids[ids >= 0]] = True
            if mask.any():
                self.register_buffer(f"region_{name}", torch.from_numpy(mask))
                self.regions[name] = getattr(self, f"region_{name}")

        self.landmark_vertices = torch.from_numpy(compact[list(LANDMARK_VERTICES)])
        tri_ids, bary = self._vertex_landmarks_as_surface_points(self.landmark_vertices.numpy())
        self.register_buffer("landmark_triangles", tri_ids)
        self.register_buffer("landmark_barycentric", bary)

        self._load_embedding(compact)

        self._eyes = []
        for side in ("left", "right"):
            mask = self.regions.get(f"eyeball_{side}")
            if mask is not None:
                centre = sphere_centre(arrays["neutral"][kept][mask.numpy()])
                self.register_buffer(f"eye_centre_{side}", as_tensor(centre))
                self._eyes.append(side)

    def _load_embedding(self, compact: np.ndarray) -> None:
        """The learned surface places of MediaPipe's 478 and the 68 iBUG points (see
        `emoca.train.landmark_embedding`), as corner vertex ids of this render mesh + barycentrics."""
        self.embedded = []
        if not LANDMARK_EMBEDDING.exists():
            return
        with np.load(LANDMARK_EMBEDDING) as data:
            for key in ("dense", "ibug"):
                corners = compact[data[f"{key}_corners"]]
                if (corners < 0).any():  # a region holding these points was left out of the mesh
                    continue
                self.register_buffer(f"{key}_corners", torch.from_numpy(corners))
                self.register_buffer(f"{key}_barycentric", torch.from_numpy(data[f"{key}_barycentric"]))
                self.embedded.append(key)

    def _vertex_landmarks_as_surface_points(self, vertices: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """Express landmark vertices as (triangle, one-hot barycentric) so all models share one form."""
        tris = self.triangles.numpy()
        tri_ids, bary = [], []
        for v in vertices:
            t, corner = np.argwhere(tris == v)[0]
            tri_ids.append(t)
            bary.append(np.eye(3, dtype=np.float32)[corner])
        return torch.as_tensor(np.asarray(tri_ids)), torch.as_tensor(np.asarray(bary))

    def expression_index(self, name: str) -> int:
        """Position of an expression shape by name (e.g. "jawOpen")."""
        return self.expression_names.index(name)

    def gaze_to_expression(self, gaze: torch.Tensor) -> torch.Tensor:
        """(B, 2) [yaw, pitch] radians -> (B, 53) eyeLook weights that make the lids follow the gaze."""
        weights = torch.zeros(gaze.shape[0], len(self.expression_names), dtype=gaze.dtype, device=gaze.device)
        yaw, pitch = (gaze / GAZE_FULL_WEIGHT_RAD).unbind(-1)
        # Looking to the subject's left (+x): the left eye looks out, the right eye looks in.
        pairs = {"eyeLookOut_L": yaw, "eyeLookIn_R": yaw, "eyeLookIn_L": -yaw, "eyeLookOut_R": -yaw,
                 "eyeLookUp_L": pitch, "eyeLookUp_R": pitch, "eyeLookDown_L": -pitch, "eyeLookDown_R": -pitch}
        for name, value in pairs.items():
            weights[:, self.expression_index(name)] = value.clamp(0, 1)
        return weights

    def _rotate_eyes(self, vertices: torch.Tensor, gaze: torch.Tensor) -> torch.Tensor:
        rotation = eye_rotation(gaze)
        out = vertices.clone()
        for side in self._eyes:
            mask = self.regions[f"eyeball_{side}"]
            centre = getattr(self, f"eye_centre_{side}")
            out[:, mask] = (vertices[:, mask] - centre) @ rotation.transpose(1, 2) + centre
        return out

    def shape(self, identity: torch.Tensor, expression: torch.Tensor) -> torch.Tensor:
        """Unposed vertices (B, V, 3), cm: template + identity and expression blendshapes."""
        offsets = torch.einsum("bk,kvc->bvc", identity, self.identity_basis)
        offsets = offsets + torch.einsum("bk,kvc->bvc", expression, self.expression_basis)
        return self.template + offsets

    def forward(self, identity: torch.Tensor, expression: torch.Tensor, rotation: torch.Tensor,
                translation: torch.Tensor, gaze: torch.Tensor | None = None) -> FaceOutput:
        """Posed vertices and landmarks; see the class docstring for the parameters."""
        if gaze is not None:
            expression = expression + self.gaze_to_expression(gaze)
        vertices = self.shape(identity, expression)
        if gaze is not None:
            vertices = self._rotate_eyes(vertices, gaze)
        vertices = rigid_transform(vertices, rotation, translation)
        points = self.surface_landmarks(vertices, "ibug") if "ibug" in self.embedded else self.landmarks_68(vertices)
        return FaceOutput(vertices=vertices, landmarks_68=points)

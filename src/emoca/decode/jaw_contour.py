"""The jawline as the face's silhouette: dynamic contour landmarks (as FLAME/DECA's yaw-dependent
contour, but chosen from the projected mesh itself rather than from a table of yaw angles).

The 68-point jawline (points 0-16) is not a fixed place on the face: annotators and detectors put it
on the visible outline of the cheek and chin, which slides over the skin as the head turns. Each jaw
point therefore gets a *path*: the face-region vertices near the jaw that lie in the plane through its
embedded (frontal) position spanned by the outline's outward normal and the depth axis, i.e. a cut
across the jaw from the front of the cheek round to its back. In any pose the point is the path's
vertex that projects furthest outward (along the projected outline's normal): the silhouette.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from emoca.facemodel.base import FaceModel

JAW = list(range(17))
ICT_JAW_OFFSETS = Path(__file__).resolve().parent / "data" / "ict_jaw_offsets.npz"


def load_jaw_offsets(path: Path = ICT_JAW_OFFSETS) -> torch.Tensor | None:
    """(17, 2) learned offsets of the jaw points from the silhouette (`shift_along_outline`;
    `emoca.train.jaw_offsets`), or None when no file is at `path`."""
    if not path.is_file():
        return None
    return torch.from_numpy(np.load(path)["offsets"].astype(np.float32))


@dataclass
class JawContourConfig:
    """band_cm: candidates lie within this distance of the embedded jawline. path_width_cm: half width
    of each point's cut across the jaw."""

    band_cm: float = 2.0
    path_width_cm: float = 0.35


def _outward_normals(points: torch.Tensor, centre: torch.Tensor) -> torch.Tensor:
    """(B, 17, 2) ordered outline points, (B, 2) a point inside -> (B, 17, 2) unit normals pointing away
    from `centre` (tangents by central differences, one-sided at the ends)."""
    tangent = torch.cat([points[:, 1:2] - points[:, 0:1], points[:, 2:] - points[:, :-2],
                         points[:, -1:] - points[:, -2:-1]], 1)
    normal = torch.stack([-tangent[..., 1], tangent[..., 0]], -1)
    normal = normal / normal.norm(dim=-1, keepdim=True).clamp(min=1e-8)
    outward = ((points - centre[:, None]) * normal).sum(-1, keepdim=True) >= 0
    return torch.where(outward, normal, -normal)


def outline_frame(jaw: torch.Tensor, centre: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, 17, 2) ordered jaw points, (B, 2) a point inside -> (B, 17, 2) outward unit normals and
    (B, 17, 2) unit tangents (the normals turned +90 degrees)."""
    normals = _outward_normals(jaw, centre)
    return normals, torch.stack([-normals[..., 1], normals[..., 0]], -1)


def shift_along_outline(points: torch.Tensor, jaw: torch.Tensor, centre: torch.Tensor, offsets: torch.Tensor,
                        eye: torch.Tensor) -> torch.Tensor:
    """Move silhouette points by learned per-point offsets in the outline's own frame.

    Args:
        points: (B, 17, 2) the silhouette jawline. jaw, centre: as in `JawContour.silhouette` (they give
            the frame: outward normal, and the tangent = the normal turned +90 degrees).
        offsets: (17, 2) [along the outward normal, along the tangent] in units of `eye`.
        eye: (B,) the projected outer-eye-corner distance, in the pixels of `points`.
    Returns:
        (B, 17, 2) the moved points.
    """
    normals, tangents = outline_frame(jaw, centre)
    step = offsets[None, :, :1] * normals + offsets[None, :, 1:] * tangents
    return points + eye[:, None, None] * step


class JawContour:
    """Candidate vertices around the jaw (`candidates`, (C,) ids of the render mesh) and each jaw point's
    path among them (`paths`, (17, C) bool)."""

    def __init__(self, model: FaceModel, config: JawContourConfig | None = None) -> None:
        self.config = config or JawContourConfig()
        template = model.template
        band, width = self.config.band_cm / model.cm_per_unit, self.config.path_width_cm / model.cm_per_unit
        landmarks = model.surface_landmarks(template[None], "ibug")[0]
        jaw, centre = landmarks[JAW], landmarks[:, :2].mean(0)
        near = torch.cdist(template, jaw).min(-1).values < band
        self.candidates = torch.nonzero(near & model.regions["face"]).squeeze(1)
        points = template[self.candidates]
        normals = _outward_normals(jaw[None, :, :2], centre[None])[0]  # (17, 2) frontal, model x-y
        across = torch.stack([-normals[:, 1], normals[:, 0]], -1)  # the outline's tangent
        offsets = points[None, :, :2] - jaw[:, None, :2]  # (17, C, 2)
        in_plane = (offsets * across[:, None]).sum(-1).abs() < width
        not_inside = (offsets * normals[:, None]).sum(-1) > -band / 2
        self.paths = in_plane & not_inside
        if not self.paths.any(1).all():
            raise ValueError(f"jaw points {torch.nonzero(~self.paths.any(1)).squeeze(1).tolist()} have no path")

    def to(self, device: torch.device) -> "JawContour":
        """Move the candidate ids and paths to `device` (in place); returns self."""
        self.candidates, self.paths = self.candidates.to(device), self.paths.to(device)
        return self

    def silhouette(self, candidates: torch.Tensor, jaw: torch.Tensor, centre: torch.Tensor) -> torch.Tensor:
        """The 17 jaw points on the projected silhouette.

        Args:
            candidates: (B, C, 2) projected candidate vertices (any 2D frame, e.g. crop pixels).
            jaw: (B, 17, 2) the embedded jaw points projected the same way (they give the outline's
                direction). centre: (B, 2) a point inside the face (e.g. the mean of the 68 points).
        Returns:
            (B, 17, 2) for each jaw point, its path's candidate furthest along the outward normal
            (differentiable with respect to the candidates; the choice itself is not).
        """
        normals = _outward_normals(jaw, centre)  # (B, 17, 2)
        reach = torch.einsum("bjd,bcd->bjc", normals, candidates).masked_fill(~self.paths[None], float("-inf"))
        chosen = reach.argmax(-1)  # (B, 17)
        return torch.gather(candidates, 1, chosen[..., None].expand(-1, -1, 2))

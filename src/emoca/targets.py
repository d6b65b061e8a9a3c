"""`FaceTargets`: what a predictor reconstructs from, the face crops and their detected landmarks."""

from dataclasses import dataclass

import numpy as np
import torch

from emoca.detect.affine import apply_affine, invert_affine
from emoca.detect.crops import CropConfig, crop_faces
from emoca.detect.pipeline import FaceLandmarks


@dataclass
class FaceTargets:
    """Per face: images (B, 3, S, S) square crops in [0, 1] (`emoca.detect.crops`); landmarks_68
    (B, 68, 2) and dense (B, 478, 2) detections in crop pixels (0 at the top-left pixel's centre)."""

    images: torch.Tensor
    landmarks_68: torch.Tensor
    dense: torch.Tensor

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, rows: slice) -> "FaceTargets":
        return FaceTargets(self.images[rows], self.landmarks_68[rows], self.dense[rows])

    def to(self, device: torch.device | str) -> "FaceTargets":
        return FaceTargets(self.images.to(device), self.landmarks_68.to(device), self.dense.to(device))

    @classmethod
    def concat(cls, parts: list["FaceTargets"]) -> "FaceTargets":
        """One batch of the faces of `parts`, in order (crops must share one size)."""
        names = ("images", "landmarks_68", "dense")
        return cls(*(torch.cat([getattr(part, name) for part in parts]) for name in names))


def face_targets(image: np.ndarray, faces: list[FaceLandmarks], crop: CropConfig) -> tuple[FaceTargets, np.ndarray]:
    """Crops and crop-pixel landmarks of every face of one (H, W, 3) uint8 image, and the (F, 2, 3)
    crop-to-input maps."""
    crops = crop_faces(image, np.stack([f.landmarks_68 for f in faces]), crop)
    to_crop = [invert_affine(m) for m in crops.to_input]
    pairs = list(zip(to_crop, faces, strict=True))
    targets = FaceTargets(torch.from_numpy(crops.images).permute(0, 3, 1, 2).float() / 255,
                          torch.from_numpy(np.stack([apply_affine(m, f.landmarks_68) for m, f in pairs])).float(),
                          torch.from_numpy(np.stack([apply_affine(m, f.dense[:, :2]) for m, f in pairs])).float())
    return targets, crops.to_input

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
    (B, 68, 2) and dense (B, 478, 2) detections in crop pixels (0 at the top-left pixel's centre);
    to_input: (B, 2, 3) float64 affine maps from crop pixels to the photo's pixels, or None for crops that
    were not cut from a photo here (training caches, synthetic tests)."""

    images: torch.Tensor
    landmarks_68: torch.Tensor
    dense: torch.Tensor
    to_input: np.ndarray | None = None

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, rows: slice) -> "FaceTargets":
        return FaceTargets(self.images[rows], self.landmarks_68[rows], self.dense[rows],
                           None if self.to_input is None else self.to_input[rows])

    def to(self, device: torch.device | str) -> "FaceTargets":
        """A copy with the tensors on `device` (the maps stay NumPy)."""
        return FaceTargets(self.images.to(device), self.landmarks_68.to(device), self.dense.to(device), self.to_input)

    @classmethod
    def concat(cls, parts: list["FaceTargets"]) -> "FaceTargets":
        """One batch of the faces of `parts`, in order (crops must share one size; the maps are kept only
        when every part has them)."""
        names = ("images", "landmarks_68", "dense")
        maps = [part.to_input for part in parts]
        return cls(*(torch.cat([getattr(part, name) for part in parts]) for name in names),
                   None if any(m is None for m in maps) else np.concatenate(maps))


def face_targets(image: np.ndarray, faces: list[FaceLandmarks], crop: CropConfig) -> FaceTargets:
    """Crops, crop-pixel landmarks and crop-to-input maps of every face of one (H, W, 3) uint8 image."""
    crops = crop_faces(image, np.stack([f.landmarks_68 for f in faces]), crop)
    to_crop = [invert_affine(m) for m in crops.to_input]
    pairs = list(zip(to_crop, faces, strict=True))
    return FaceTargets(torch.from_numpy(crops.images).permute(0, 3, 1, 2).float() / 255,
                       torch.from_numpy(np.stack([apply_affine(m, f.landmarks_68) for m, f in pairs])).float(),
                       torch.from_numpy(np.stack([apply_affine(m, f.dense[:, :2]) for m, f in pairs])).float(),
                       crops.to_input)

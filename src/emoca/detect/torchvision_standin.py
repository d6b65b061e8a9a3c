"""A stand-in for the two torchvision functions facenet-pytorch's MTCNN imports.

torchvision from the registry does not import beside torch 2.13.0 here (`torchvision::nms`), and MTCNN
needs only `ops.boxes.batched_nms` and `transforms.functional.to_tensor`. `install()` registers small
pure-PyTorch versions under those module names, only when a real torchvision cannot be imported.
"""

import sys
import types

import numpy as np
import torch


def nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Greedy non-maximum suppression: indices of kept (K,) boxes (x0, y0, x1, y1), best score first."""
    order = scores.argsort(descending=True)
    boxes = boxes[order]
    area = (boxes[:, 2] - boxes[:, 0]).clamp(min=0) * (boxes[:, 3] - boxes[:, 1]).clamp(min=0)
    top_left = torch.maximum(boxes[:, None, :2], boxes[None, :, :2])
    bottom_right = torch.minimum(boxes[:, None, 2:], boxes[None, :, 2:])
    inter = (bottom_right - top_left).clamp(min=0).prod(-1)
    iou = inter / (area[:, None] + area[None, :] - inter).clamp(min=1e-12)
    suppressed = torch.zeros(len(boxes), dtype=torch.bool)
    keep = []
    for i in range(len(boxes)):
        if suppressed[i]:
            continue
        keep.append(i)
        suppressed |= iou[i] > iou_threshold
    return order[torch.tensor(keep, dtype=torch.long)]


def batched_nms(boxes: torch.Tensor, scores: torch.Tensor, idxs: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """NMS within each category `idxs` (boxes of different categories never suppress each other)."""
    if boxes.numel() == 0:
        return torch.empty(0, dtype=torch.long)
    offsets = idxs.to(boxes) * (boxes.max() + 1)
    return nms(boxes + offsets[:, None], scores, iou_threshold)


def to_tensor(picture: np.ndarray) -> torch.Tensor:
    """(H, W, C) array -> (C, H, W) float tensor; uint8 is scaled to [0, 1]."""
    array = np.asarray(picture)
    tensor = torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))
    return tensor.float().div(255) if array.dtype == np.uint8 else tensor.float()


def install() -> None:
    """Register the stand-in modules unless a working torchvision is importable."""
    if "torchvision" in sys.modules:
        return
    try:
        import torchvision.ops  # noqa: F401
        return
    except Exception:  # a missing or broken torchvision both mean: use the stand-in
        sys.modules.pop("torchvision", None)
    names = ["torchvision", "torchvision.ops", "torchvision.ops.boxes", "torchvision.transforms",
             "torchvision.transforms.functional"]
    modules = {name: types.ModuleType(name) for name in names}
    modules["torchvision.ops.boxes"].batched_nms = batched_nms
    modules["torchvision.ops.boxes"].nms = nms
    modules["torchvision.transforms.functional"].to_tensor = to_tensor
    modules["torchvision"].ops = modules["torchvision.ops"]
    modules["torchvision"].transforms = modules["torchvision.transforms"]
    modules["torchvision.ops"].boxes = modules["torchvision.ops.boxes"]
    modules["torchvision.transforms"].functional = modules["torchvision.transforms.functional"]
    sys.modules.update(modules)

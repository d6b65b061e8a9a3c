"""Train the emotion-from-geometry heads (`emoca.nets.geometry_emotion`) on reconstructed expressions.

    python -m emoca.train.geometry_emotion --method regress   # stage 2 (EMOCA): geometry_emotion_regress
    python -m emoca.train.geometry_emotion --method fit       # the fitter: geometry_emotion_fit

Reads the regressor's face caches (`python -m emoca.train.regressor_data`: the detected, cropped faces
with their points and trunk features). Each face is reconstructed once per method and its 53 expression
weights are kept: the regressor's rows from the cached trunk features (milliseconds), the fitter's by
fitting the cached crop (upsampled from 128 to 224 px, the detected points as they are; about 1.5 s a
face on one thread here, so only seeded subsets of the FER+ caches are fitted, `FIT_SUBSETS`, and
expressions_wild train uses the fits cached with it). Training data: expressions_wild train (its label,
one-hot) and FER+ train (the cleaned crowd-vote distribution: soft labels); model selection: the best
epoch by accuracy on the cached FER+ valid faces (the fitter's: its subset). expressions_wild valid and
FER+ test are never read here (the benchmark reports on them once). Fits are cached in
`~/.cache/emoca/regressor/fit_expression_NAME.npz`.
"""

import argparse
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from emoca.io.atomic import atomic_path
from emoca.nets.encoders import TRUNK_SIZE, normalised_points
from emoca.nets.geometry_emotion import (
    GEOMETRY_WEIGHTS,
    GeometryEmotionConfig,
    GeometryEmotionNet,
    save_geometry_emotion,
)
from emoca.nets.regressor import COARSE_WEIGHTS, EXPRESSION_WEIGHTS, Regressor
from emoca.predictors.fitter import FitConfig
from emoca.targets import FaceTargets
from emoca.train.regressor import CONTROL_WEIGHTS, FaceCache
from emoca.train.regressor_data import CACHE

REGRESSOR_STAGES = {"coarse": None, "regress_noemotion": CONTROL_WEIGHTS, "regress": EXPRESSION_WEIGHTS}
"""The regressor's expression sources: stage 1's own expression, stage 2 without and with the emotion
loss (their stage-2 weights files)."""
METHODS = (*REGRESSOR_STAGES, "fit")
TRAIN_SOURCES = ("wild_train", "ferplus_train")
SELECTION_SOURCE = "ferplus_valid"
FIT_BATCH = 16


FIT_SUBSETS = {"ferplus_train": 400, "ferplus_valid": 150, "ferplus_test": 300}
"""Faces the fitter reconstructs per FER+ cache (a seeded subset: fits take seconds a face on this CPU);
the other caches are fitted whole (expressions_wild train's fits come with its cache)."""


@dataclass
class HeadTraining:
    """The MLP's schedule (AdamW, soft-label cross-entropy, cosine decay, best epoch on the selection
    faces)."""

    epochs: int = 60
    batch_size: int = 256
    learning_rate: float = 1e-3
    weight_decay: float = 1e-2
    seed: int = 0


def _cache(name: str) -> dict[str, np.ndarray]:
    return dict(np.load(CACHE / f"{name}.npz"))


def fit_rows(name: str, seed: int = 0) -> np.ndarray | None:
    """Rows of cache `name` the fitter reconstructs: a seeded subset (`FIT_SUBSETS`), else all (None)."""
    if name not in FIT_SUBSETS:
        return None
    count = len(np.load(CACHE / f"{name}.npz")["emotion_targets"])
    return np.sort(np.random.default_rng(seed).permutation(count)[:FIT_SUBSETS[name]])


def regressed_expressions(method: str, name: str) -> np.ndarray:
    """(N, 53) expression weights of cache `name`'s faces from the regressor stage `method`."""
    regressor = Regressor.load(COARSE_WEIGHTS, REGRESSOR_STAGES[method])
    cache, out = FaceCache((name,)), []
    with torch.no_grad():
        for start in range(0, len(cache), 256):
            batch = cache.batch(np.arange(start, min(start + 256, len(cache))))
            points = normalised_points(batch["landmarks_68"], batch["dense"], TRUNK_SIZE)
            out.append(regressor.from_stem(batch["stem"], points, batch["photo_emotion"]).expression)
    return torch.cat(out).numpy()


def cached_targets(cache: dict[str, np.ndarray], rows: np.ndarray) -> FaceTargets:
    """The fitter's targets for cached faces: the crop upsampled to the crop size the points are in."""
    size = int(cache["crop_size"])
    crops = torch.from_numpy(cache["crops"][rows]).permute(0, 3, 1, 2).float() / 255
    images = F.interpolate(crops, size=(size, size), mode="bilinear", align_corners=False).clamp(0, 1)
    return FaceTargets(images, torch.from_numpy(cache["landmarks_68"][rows]), torch.from_numpy(cache["dense"][rows]))


def fitted_expressions(name: str, cache: dict[str, np.ndarray], rows: np.ndarray | None) -> np.ndarray:
    """(len(rows), 53) the fitter's expression weights of cached faces (`rows`; None: all): the cache's own
    fits when it has them, else fitted now and kept in `fit_expression_NAME.npz`."""
    rows = np.arange(len(cache["crops"])) if rows is None else rows
    if "fit_expression" in cache:
        return cache["fit_expression"][rows]
    path = CACHE / f"fit_expression_{name}.npz"
    if path.exists():
        saved = np.load(path)
        if np.array_equal(saved["rows"], rows):
            return saved["expression"]
    from emoca.pipeline.photo import Reconstructor, ReconstructorConfig

    reconstructor = Reconstructor(ReconstructorConfig(method="fit", fit=FitConfig(), emotion=False))
    started, parts = time.perf_counter(), []
    for start in range(0, len(rows), FIT_BATCH):
        chunk = rows[start:start + FIT_BATCH]
        parts.append(reconstructor.predictor.predict(cached_targets(cache, chunk)).expression.numpy())
    expression = np.concatenate(parts)
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, rows=rows, expression=expression)
    print(f"fitted {len(rows)} faces of {name} in {time.perf_counter() - started:.0f} s", flush=True)
    return expression


def expressions(method: str, name: str, rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(expression (N, 53), soft labels (N, 8)) of cache `name`'s faces reconstructed by `method`, for
    `rows` (None: all; the fitter: `fit_rows` by default)."""
    cache = _cache(name)
    if method == "fit":
        rows = fit_rows(name) if rows is None else rows
        values = fitted_expressions(name, cache, rows)
    else:
        values = regressed_expressions(method, name)
        if rows is not None:
            values = values[rows]
    labels = cache["emotion_targets"] if rows is None else cache["emotion_targets"][rows]
    return values.astype(np.float32), labels.astype(np.float32)


def train_head(train: tuple[np.ndarray, np.ndarray], select: tuple[np.ndarray, np.ndarray],
               config: HeadTraining) -> tuple[GeometryEmotionNet, dict]:
    """An MLP from (N, D) expressions to the 8 classes, trained on `train` (soft labels), the epoch with
    the best accuracy on `select` kept; returns it (eval mode) and its figures."""
    torch.manual_seed(config.seed)
    inputs, labels = torch.from_numpy(train[0]), torch.from_numpy(train[1])
    select_inputs, select_classes = torch.from_numpy(select[0]), torch.from_numpy(select[1].argmax(1))
    net = GeometryEmotionNet(GeometryEmotionConfig(inputs=inputs.shape[1]))
    net.mean.copy_(inputs.mean(0))
    net.spread.copy_(inputs.std(0).clamp(min=1e-3))
    optimiser = torch.optim.AdamW(net.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, config.epochs)
    generator = torch.Generator().manual_seed(config.seed)
    best, best_state, best_epoch = -1.0, None, 0
    for epoch in range(config.epochs):
        net.train()
        for batch in torch.randperm(len(inputs), generator=generator).split(config.batch_size):
            loss = -(labels[batch] * net(inputs[batch]).logits.log_softmax(-1)).sum(1).mean()
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
        schedule.step()
        net.eval()
        with torch.no_grad():
            score = float((net(select_inputs).logits.argmax(1) == select_classes).float().mean())
        if score > best:
            best, best_epoch = score, epoch + 1
            best_state = {k: v.clone() for k, v in net.state_dict().items()}
    net.load_state_dict(best_state)
    return net.eval(), {"selection_accuracy": round(best, 4), "epoch": best_epoch, "train_faces": len(inputs)}


def training_data(method: str) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """((train expressions, labels), (selection expressions, labels)) of `method`."""
    parts = [expressions(method, name) for name in TRAIN_SOURCES]
    return (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])), expressions(
        method, SELECTION_SOURCE)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--method", choices=tuple(GEOMETRY_WEIGHTS), required=True)
    parser.add_argument("--out", type=Path, default=None, help="weights file (default: the shipped one)")
    parser.add_argument("--fit-only", nargs="*", metavar="CACHE", default=None,
                        help="only reconstruct these caches with the fitter (e.g. in the background), no training")
    args = parser.parse_args(argv)
    if args.fit_only is not None:
        for name in args.fit_only:
            expressions("fit", name)
        return
    config = HeadTraining()
    started = time.perf_counter()
    train, select = training_data(args.method)
    net, figures = train_head(train, select, config)
    out = args.out or GEOMETRY_WEIGHTS[args.method]
    save_geometry_emotion(net, out, {"method": args.method, "training": asdict(config), "figures": figures})
    print(f"{args.method}: {figures}, {time.perf_counter() - started:.0f} s -> {out}", flush=True)


if __name__ == "__main__":
    main()

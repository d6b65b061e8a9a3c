"""Cache the regressor's training and validation faces: crops, detections, trunk features, targets.

    python -m emoca.train.regressor_data [--ferplus-train 10000] [--only NAME] [--test] [--synthetic 3000]

Reads (train): HELEN trainset (500 photos), expressions_wild train (2,502), a seeded random subset of
FER+ train; (valid, for model selection): expressions_wild valid and 1,000 FER+ valid faces. The test
split is read only with `--test` (`ferplus_test`: every FER+ test face, for the benchmarks that report
on it once; nothing trains or selects on it). `synthetic_train`: `--synthetic` (3,000; 0 for none)
SYNTHETIC renders (`emoca.synthetic`, seed `SYNTHETIC_SEED`, disjoint from the benchmarks' 7 and the
identity head's 1000) with their exact expression weights (`true_expression`), for stage 2's
supervised expression term (2,969 with a detected face, about 4 minutes).
Each photo's best face is detected (`emoca.detect`), cropped DECA-style at 224 px and kept at
`TRUNK_SIZE` px with its 68 + 478 points (224-px crop pixels);
FER+'s 48 px grey faces are upsampled 4x and padded by 48 px (replicated border) so the detector sees a
whole face (95 of the first 100 train faces are found).
Then per face: the frozen trunk's stem features (`emoca.nets.encoders.Trunk.stem`, (192, 4, 4) fp16),
the emotion recogniser's `features()` of the crop (the emotion loss's target), the emotion class
distribution (FER+ votes, or the expressions_wild label; none for HELEN), and for HELEN and
expressions_wild the fitter's `FaceParams` (pseudo ground truth for identity, light and albedo);
`source_index` is each kept face's position among the source's photos.

Writes `~/.cache/emoca/regressor/NAME.npz` per source (rerun skips finished ones); about 25 minutes on
2 cores in all.
"""

import argparse
import time
from collections.abc import Iterator
from dataclasses import dataclass, fields
from pathlib import Path

import cv2
import numpy as np
import torch

from emoca.datasets.expressions_wild import wild_photos
from emoca.datasets.ferplus import load_ferplus
from emoca.datasets.helen import helen_split
from emoca.decode.albedo import AlbedoModel
from emoca.emotions import EMOTIONS
from emoca.face_params import FaceParams
from emoca.facemodel.ict import ICTFaceModel
from emoca.io.atomic import atomic_path
from emoca.io.images import load_image
from emoca.nets.emotion import load_emotion_net
from emoca.nets.encoders import TRUNK_SIZE, Trunk
from emoca.pipeline.photo import Reconstructor, ReconstructorConfig
from emoca.synthetic import SceneRenderer, random_scene
from emoca.targets import FaceTargets

CACHE = Path.home() / ".cache" / "emoca" / "regressor"
FER_UPSAMPLE, FER_PAD = 4, 48
BATCH = 16
SYNTHETIC_SEED = 2000
SYNTHETIC_SOURCE = "synthetic_train"  # the cache of SYNTHETIC renders with their exact expressions


@dataclass
class Source:
    """One cached set: its name, whether the fitter's pseudo ground truth is computed, its photos as
    (image, (8,) emotion distribution or NaN) pairs (yielded lazily), and for renders the (count, 53)
    exact expression weights of each photo."""

    name: str
    fit: bool
    items: Iterator[tuple[np.ndarray, np.ndarray]]
    count: int
    true_expression: np.ndarray | None = None


def _one_hot(emotion: str) -> np.ndarray:
    return np.eye(len(EMOTIONS), dtype=np.float32)[EMOTIONS.index(emotion)]


def _upsampled_fer(face: np.ndarray) -> np.ndarray:
    big = cv2.resize(face, (48 * FER_UPSAMPLE,) * 2, interpolation=cv2.INTER_CUBIC)
    return cv2.copyMakeBorder(np.repeat(big[..., None], 3, -1), *(FER_PAD,) * 4, cv2.BORDER_REPLICATE)


def _fer_items(faces, rows: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    for i in rows:
        yield _upsampled_fer(faces.images[i]), faces.targets[i]


def synthetic_source(model: ICTFaceModel, albedo: AlbedoModel, count: int, seed: int = SYNTHETIC_SEED) -> Source:
    """`count` SYNTHETIC renders of `seed` (rendered lazily) with their exact expression weights. The
    scenes are drawn from the seed twice, for the weights now and for the renders as they are read, so
    they are never all held (each carries a 1.2 MB background)."""

    def scenes() -> Iterator[dict]:
        generator = torch.Generator().manual_seed(seed)
        return (random_scene(model, albedo, generator) for _ in range(count))

    render, unlabelled = SceneRenderer(model, albedo), np.full(len(EMOTIONS), np.nan, np.float32)
    truth = np.concatenate([scene["params"]["expression"].numpy() for scene in scenes()])
    return Source(SYNTHETIC_SOURCE, False, ((render(scene), unlabelled) for scene in scenes()), count, truth)


def sources(ferplus_train: int, test: bool = False, seed: int = 0) -> list[Source]:
    """Every photo source of the module docstring, in the order they are cached (`ferplus_test` only when
    `test`)."""
    unlabelled = np.full(len(EMOTIONS), np.nan, np.float32)
    helen = helen_split("trainset")
    wild = {split: wild_photos(split) for split in ("train", "valid")}
    fer = {split: load_ferplus(split) for split in ("train", "valid")}
    rng = np.random.default_rng(seed)
    chosen = {"train": np.sort(rng.permutation(len(fer["train"].images))[:ferplus_train]),
              "valid": np.sort(rng.permutation(len(fer["valid"].images))[:1000])}
    result = [Source("helen_train", True, ((load_image(p), unlabelled) for p, _ in helen), len(helen))]
    for split in ("train", "valid"):
        result.append(Source(f"wild_{split}", split == "train",
                             ((load_image(p.path), _one_hot(p.emotion)) for p in wild[split]), len(wild[split])))
        result.append(Source(f"ferplus_{split}", False, _fer_items(fer[split], chosen[split]), len(chosen[split])))
    if test:
        fer_test = load_ferplus("test")
        rows = np.arange(len(fer_test.images))
        result.append(Source("ferplus_test", False, _fer_items(fer_test, rows), len(rows)))
    return result


def cache_source(source: Source, reconstructor: Reconstructor, trunk: Trunk, emotion) -> dict[str, np.ndarray]:
    """Detect, crop, fit (if asked) and compute the features of one source; the arrays of its npz."""
    crops, points68, dense, targets, fits, kept = [], [], [], [], [], []
    pending: list[FaceTargets] = []

    def fit_pending() -> None:
        if pending:
            fits.append(reconstructor.predictor.predict(FaceTargets.concat(pending)))
            pending.clear()

    for position, (image, target) in enumerate(source.items):
        faces = reconstructor.landmarker(image)
        if not faces:
            continue
        kept.append(position)
        face_targets = reconstructor.targets(image, faces[:1])
        crop = (face_targets.images[0].permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
        crops.append(cv2.resize(crop, (TRUNK_SIZE, TRUNK_SIZE), interpolation=cv2.INTER_AREA))
        points68.append(face_targets.landmarks_68[0].numpy())
        dense.append(face_targets.dense[0].numpy())
        targets.append(target)
        if source.fit:
            pending.append(face_targets)
            if len(pending) == BATCH:
                fit_pending()
    fit_pending()
    arrays = {"crops": np.stack(crops), "landmarks_68": np.stack(points68).astype(np.float32),
              "dense": np.stack(dense).astype(np.float32), "emotion_targets": np.stack(targets),
              "crop_size": np.int64(reconstructor.crop.size), "photos": np.int64(source.count),
              "source_index": np.array(kept, np.int64)}
    if source.true_expression is not None:
        arrays["true_expression"] = source.true_expression[kept]
    images = torch.from_numpy(arrays["crops"]).permute(0, 3, 1, 2)
    features, emotions = [], []
    with torch.no_grad():
        for start in range(0, len(images), 64):
            batch = images[start:start + 64].float() / 255
            features.append(trunk.stem(batch).half())
            emotions.append(emotion.features(batch).half())
    arrays["stem"] = torch.cat(features).numpy()
    arrays["photo_emotion"] = torch.cat(emotions).numpy()
    if fits:
        fitted = FaceParams.concat(fits)
        for part in fields(FaceParams):
            value = getattr(fitted, part.name)
            if value is not None:
                arrays[f"fit_{part.name}"] = value.numpy()
    return arrays


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ferplus-train", type=int, default=10000, help="FER+ train faces to cache")
    parser.add_argument("--only", default=None, help="cache only this source (e.g. wild_valid)")
    parser.add_argument("--test", action="store_true", help="also cache every FER+ test face (ferplus_test)")
    parser.add_argument("--synthetic", type=int, default=3000, help="SYNTHETIC renders to cache (synthetic_train)")
    args = parser.parse_args(argv)
    CACHE.mkdir(parents=True, exist_ok=True)
    reconstructor, trunk, emotion = Reconstructor(ReconstructorConfig(method="fit")), Trunk(), load_emotion_net()
    renders = ([synthetic_source(reconstructor.model, reconstructor.decoder.albedo, args.synthetic)]
               if args.synthetic else [])
    for source in sources(args.ferplus_train, args.test) + renders:
        path = CACHE / f"{source.name}.npz"
        if path.exists() or (args.only and source.name != args.only):
            continue
        start = time.perf_counter()
        arrays = cache_source(source, reconstructor, trunk, emotion)
        with atomic_path(path) as tmp, open(tmp, "wb") as handle:
            np.savez(handle, **arrays)
        print(f"{source.name}: {len(arrays['crops'])} of {source.count} photos with a face, "
              f"{time.perf_counter() - start:.0f} s", flush=True)


if __name__ == "__main__":
    main()

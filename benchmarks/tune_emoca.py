"""Choosing `--method emoca`'s settings on sets that are never reported (the judge plays no part).

For each method or `EmocaConfig` variant: our recogniser's agreement between the photo crop and the
render of its reconstruction over that crop (and the mean feature distance), on a class-balanced draw of
expressions_wild **train** photos; the 68-point NME of the reconstruction on every 8th HELEN **trainset**
photo; identity retrieval (`emoca.train.identity_head.nearest_is_same`: the nearest other photo is the
same person's) on expressions_wild train people with two photos (`--people`); milliseconds per face
(predict, torch's default threads). Everything runs in this process.

Run: `.venv/bin/python benchmarks/tune_emoca.py [--per-class 8] [--variants regress emoca emoca:emotion_weight=0]`
(a variant is a method, optionally with `:field=value,...` overrides of `EmocaConfig`).
"""

import argparse
import time
from collections import defaultdict
from dataclasses import replace

import numpy as np
import torch

from emoca.datasets.expressions_wild import wild_photos
from emoca.datasets.helen import helen_split, nme, nme_summary
from emoca.detect.affine import apply_affine
from emoca.io.images import load_image
from emoca.nets.emotion import load_emotion_net
from emoca.pipeline.photo import Reconstructor, ReconstructorConfig
from emoca.predictors.emotion_term import EmotionConsistency
from emoca.train.identity_head import nearest_is_same


def balanced(per_class: int) -> list:
    """The first `per_class` train photos of each class (labels.csv order)."""
    chosen, counts = [], defaultdict(int)
    for photo in wild_photos("train"):
        if counts[photo.emotion] < per_class:
            counts[photo.emotion] += 1
            chosen.append(photo)
    return chosen


def pairs(count: int) -> list:
    """The first two train photos of the first `count` people with two or more (labels.csv order)."""
    by_person = defaultdict(list)
    for photo in wild_photos("train"):
        by_person[photo.subject].append(photo)
    return [people[:2] for people in by_person.values() if len(people) >= 2][:count]


def parse_variant(text: str) -> ReconstructorConfig:
    method, _, overrides = text.partition(":")
    config = ReconstructorConfig(method=method)
    for item in filter(None, overrides.split(",")):
        key, value = item.split("=")
        current = getattr(config.emoca, key)
        if isinstance(current, tuple):
            parsed = tuple(int(v) for v in value.split("/"))
        elif isinstance(current, bool):
            parsed = value.lower() in ("1", "true", "yes")
        else:
            parsed = type(current)(value)
        config.emoca = replace(config.emoca, **{key: parsed})
    return config


def predict(reconstructor: Reconstructor, image: np.ndarray):
    """(targets, params, seconds) of the image's first face, or None without one."""
    detections = reconstructor.landmarker(image)
    if not detections:
        return None
    targets = reconstructor.targets(image, detections[:1])
    start = time.perf_counter()
    params = reconstructor.predictor.predict(targets)
    return targets, params, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-class", type=int, default=8)
    parser.add_argument("--variants", nargs="+", default=["regress", "emoca:emotion_weight=0", "emoca"])
    parser.add_argument("--no-helen", action="store_true")
    parser.add_argument("--people", type=int, default=60,
                        help="expressions_wild train people for the identity (0: skip; the variants that hold "
                        "the regressor's identity all score as the regressor)")
    args = parser.parse_args()
    recogniser = EmotionConsistency(load_emotion_net())
    photos = balanced(args.per_class)
    helen = helen_split("trainset")[::8]
    images = [load_image(photo.path) for photo in photos]
    print(f"expressions_wild train, {len(photos)} photos ({args.per_class} a class); HELEN trainset every 8th: "
          f"{len(helen)}")
    for variant in args.variants:
        reconstructor = Reconstructor(parse_variant(variant))
        decoder = reconstructor.decoder
        agree, distance, times, kept = [], [], [], 0
        for image in images:
            result = predict(reconstructor, image)
            if result is None:
                continue
            targets, params, seconds = result
            times.append(seconds)
            kept += 0 if params.refined is None else int((~params.refined).sum())
            with torch.no_grad():
                rendered = decoder.render(params, decoder.decode(params), targets.images.shape[-1],
                                          background=targets.images).image
                photo_net, render_net = recogniser.net.predict(targets.images), recogniser.net.predict(rendered)
                agree.append(bool(photo_net.probabilities.argmax(-1) == render_net.probabilities.argmax(-1)))
                distance.append(float(recogniser(rendered, recogniser.target(targets.images))))
        errors = []
        for path, truth in ([] if args.no_helen else helen):
            result = predict(reconstructor, load_image(path))
            if result is None:
                errors.append(np.inf)
                continue
            targets, params, _ = result
            with torch.no_grad():
                points = decoder.decode(params, mesh=False).landmarks_68[0].numpy()
            errors.append(nme(apply_affine(targets.to_input[0], points), truth))
        helen_text = "" if not errors else f"; HELEN {nme_summary(errors)}"
        identities, subjects = [], []
        for one, two in pairs(args.people):
            results = [predict(reconstructor, load_image(photo.path)) for photo in (one, two)]
            if all(results):
                identities += [result[1].identity[0].numpy() for result in results]
                subjects += [one.subject, two.subject]
        if subjects:
            share = nearest_is_same(np.stack(identities), np.array(subjects))
            helen_text += f"; identity nearest {100 * share:.1f}% of {len(subjects)} photos"
        print(f"{variant:40s} agreement {100 * np.mean(agree):.1f}% distance {np.mean(distance):.4f}"
              f"{helen_text}; {1000 * np.median(times):.0f} ms a face; start kept {kept}/{len(times)}", flush=True)


if __name__ == "__main__":
    main()

"""Gaze from MediaPipe's iris points on SYNTHETIC renders with known gaze (rendered ICT faces, not photos).

Renders `--count` ICT faces (`emoca.synthetic`'s scenes, as `bench_fit_synthetic.py`, seeded, random eyeLook weights
removed) looking in a known direction (yaw within +-20 deg, pitch within +-15 deg: the eyeballs
rotate and the lids follow through the eyeLook weights, ICT's own gaze); reconstructs each with
`--method` (landmarks from our detector, never the ground truth), estimates the gaze
(`emoca.decode.gaze`), and compares the recovered eight eyeLook weights with the true ones.

Run: `.venv/bin/python benchmarks/bench_gaze.py [--count 50]` (part of `make bench`).
`--calibrate` (seed 1, 100 faces: never the benchmark's seed 7) prints the least-squares pupil depth.
Target (issue "Animation"): mean absolute error of the eyeLook weights <= 0.1 on 50 renders.
The figures go to out/report/figures.json ("gaze").
"""

import argparse

import numpy as np
import torch
from figures import record

from emoca.decode.gaze import IRIS_CENTRES, PUPIL_DEPTH, estimate_gaze
from emoca.detect.affine import apply_affine, invert_affine
from emoca.facemodel.ict import EYE_LOOK
from emoca.pipeline.photo import METHODS, Reconstructor, ReconstructorConfig
from emoca.synthetic import SceneRenderer, random_scene


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=50)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--method", choices=METHODS, default="regress")
    parser.add_argument("--calibrate", action="store_true", help="fit the pupil depth (seed 1, 100 faces)")
    args = parser.parse_args()
    if args.calibrate:
        args.seed, args.count = 1, 100
    reconstructor = Reconstructor(ReconstructorConfig(method=args.method))
    model, decoder = reconstructor.model, reconstructor.decoder
    look = [model.expression_index(name) for name in EYE_LOOK]
    render = SceneRenderer(model, decoder.albedo)
    generator = torch.Generator().manual_seed(args.seed)
    cases, missed = [], 0
    for _ in range(args.count):
        scene = random_scene(model, decoder.albedo, generator)
        scene["params"]["expression"][:, look] = 0
        limits = torch.tensor([np.deg2rad(20), np.deg2rad(15)], dtype=torch.float32)
        gaze = (torch.rand(1, 2, generator=generator) * 2 - 1) * limits
        photo = render(scene, gaze)
        found = reconstructor.landmarker(photo)
        if not found or len(found[0].dense) < max(IRIS_CENTRES) + 1:
            missed += 1
            continue
        targets = reconstructor.targets(photo, found[:1])
        params = reconstructor.predictor.predict(targets)
        dense = apply_affine(invert_affine(targets.to_input[0]), found[0].dense[:, :2])
        cases.append((gaze, params, reconstructor.decode(params), dense))

    def errors(depth: float | None, relative: bool = True) -> tuple[float, np.ndarray]:
        """Mean absolute error of the eight eyeLook weights, and of (yaw, pitch) in degrees (depth None:
        the baseline that always says "straight ahead")."""
        weights, angles = [], []
        for gaze, params, decoded, iris in cases:
            estimate = torch.zeros(1, 2) if depth is None else torch.as_tensor(
                estimate_gaze(decoder, params, decoded, iris, depth, relative)[None], dtype=torch.float32)
            truth, found = model.gaze_to_expression(gaze)[0, look], model.gaze_to_expression(estimate)[0, look]
            weights.append(float((truth - found).abs().mean()))
            angles.append(np.rad2deg(np.abs((estimate - gaze)[0].numpy())))
        return float(np.mean(weights)), np.mean(angles, 0)

    depth = PUPIL_DEPTH
    if args.calibrate:
        grid = np.round(np.arange(0.8, 3.01, 0.1), 2)
        depth = float(grid[np.argmin([errors(d)[0] for d in grid])])
        print(f"calibrated pupil depth (least eyeLook error over {grid[0]}..{grid[-1]}): {depth}")
    weight_error, degrees = errors(depth)
    print(f"SYNTHETIC gaze, {len(cases)} of {args.count} rendered ICT faces (seed {args.seed}, {missed} without "
          f"iris points), --method {args.method}, pupil depth {depth}:")
    print(f"  eyeLook weights: mean absolute error {weight_error:.3f}  [target <= 0.1]")
    print(f"  gaze angles: mean absolute error yaw {degrees[0]:.1f} deg, pitch {degrees[1]:.1f} deg")
    own = np.mean([float((model.gaze_to_expression(gaze)[0, look] - params.expression[0, look]).abs().mean())
                   for gaze, params, _, _ in cases])
    print(f"  the predictor's own eyeLook weights (from the lids): error {own:.3f}")
    absolute, absolute_degrees = errors(depth, relative=False)
    print(f"  the same from the projected eyeball centres alone (not from the eye corners): eyeLook error "
          f"{absolute:.3f}; yaw {absolute_degrees[0]:.1f} deg, pitch {absolute_degrees[1]:.1f} deg")
    baseline, baseline_degrees = errors(None)
    print(f"  baseline 'straight ahead': eyeLook error {baseline:.3f}; yaw {baseline_degrees[0]:.1f} deg, pitch "
          f"{baseline_degrees[1]:.1f} deg")
    record("gaze", {f"SYNTHETIC, {args.method}": {
        "faces": len(cases), "pupil_depth": depth, "eyelook_error": round(weight_error, 3),
        "yaw_error_deg": round(float(degrees[0]), 1), "pitch_error_deg": round(float(degrees[1]), 1),
        "eyelook_error_from_lids": round(float(own), 3), "eyelook_error_eyeball_only": round(absolute, 3),
        "eyelook_error_straight_ahead": round(baseline, 3)}})


if __name__ == "__main__":
    main()

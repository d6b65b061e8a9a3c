"""The texture's work resolution (`TextureConfig.work_rows`, the rows at which the mesh is sampled
before the maps are resized to the image), chosen on photos no benchmark reports: every k-th HELEN
trainset photo. Per setting: the textured render's PSNR and SSIM against the photo inside the frontal
face (as `bench_texture.py` scores them) and the build time per face, all settings on the same faces
in one run.

Run: `.venv/bin/python benchmarks/tune_texture.py [--photos 50] [--rows 256,192,128]` (not part of
`make bench`: it made a choice, 2026-12-02, recorded in docs/texture.md).
"""

import argparse
import time

import numpy as np
from bench_texture import Renders, _scores

from emoca.datasets.helen import helen_split
from emoca.io.images import load_image
from emoca.output.writer import OutputWriter, face_texture
from emoca.pipeline.photo import Reconstructor, ReconstructorConfig
from emoca.texture.from_photo import TextureBuilder, TextureConfig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=50)
    parser.add_argument("--rows", default="256,192,128")
    args = parser.parse_args()
    reconstructor = Reconstructor(ReconstructorConfig(method="regress"))
    renders = Renders(reconstructor, OutputWriter(reconstructor))
    builders = {int(rows): TextureBuilder(reconstructor.model, TextureConfig(work_rows=int(rows)))
                for rows in args.rows.split(",")}
    paths = [path for path, _ in helen_split("trainset")]
    paths = paths[::max(1, len(paths) // args.photos)]
    scores, times = {rows: [] for rows in builders}, {rows: [] for rows in builders}
    for path in paths:
        image = load_image(path)
        faces = reconstructor.reconstruct(image)
        if not faces:
            continue
        for rows, builder in builders.items():
            start = time.perf_counter()
            texture = face_texture(builder, image, faces[0], reconstructor.crop.size)
            times[rows].append(1000 * (time.perf_counter() - start))
            _, textured, mask = renders(image, faces[0], texture)
            if mask.sum() >= 100:
                scores[rows].append(_scores(image, textured, mask))
    for rows in builders:
        values = np.asarray(scores[rows])
        print(f"work_rows {rows}: {len(values)} faces, PSNR {values[:, 0].mean():.2f} dB, SSIM "
              f"{values[:, 1].mean():.3f}, build median {np.median(times[rows][1:]):.1f} ms")


if __name__ == "__main__":
    main()

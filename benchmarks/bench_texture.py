"""The texture taken from the photo (`emoca.texture`): how close its render is to the photo, and its cost.

For each photo (London neutral and smiling, 204; HELEN test, 330; `--limit N` takes every k-th of each
set to keep N), its main face is reconstructed (`--method`, default regress: the fast path; the texture
depends on the geometry only through where it samples) and rendered twice at the photo's size with the
reconstruction's own camera and light: with the albedo model's colours (what render.png shows) and with
the photo's texture (textured.png). Both are compared with the photo inside the frontal face (ICT's
narrow face region, as rendered): PSNR (dB, RGB in [0, 1]) and SSIM (scikit-image, grey, the mean of
its map over those pixels). The texture is by construction the photo where the face is seen, so its
render should be far closer; what it measures is the resampling, the de-lighting and the visibility
test. Also: the texture's build time per face (`TextureConfig` default: 1024 x 512 px), median over the
photos; and, with `--video`, the sample video's reconstruction (`emoca.output.writer.OutputWriter.video`)
with and without its texture, alternated, `--video-runs` times each (wall time ratio).

Run: `.venv/bin/python benchmarks/bench_texture.py [--limit 120] [--video]` (part of `make bench`).
Targets (issue "Heads that look like the person"): the textured render clearly closer (both reported);
texture <= 50 ms a face; the video's reconstruction slowed by <= 10%.
"""

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from figures import record
from skimage.metrics import structural_similarity

from emoca.datasets.helen import DEFAULT_ROOT as HELEN
from emoca.datasets.helen import helen_split
from emoca.decode.image_space import screen_in_image
from emoca.io.images import load_image
from emoca.methods import FAST_METHOD
from emoca.output.writer import OutputWriter, face_texture
from emoca.pipeline.photo import METHODS, Reconstructor, ReconstructorConfig
from emoca.render.renderer import Renderer, RendererConfig
from emoca.texture.from_photo import TextureBuilder

LONDON = HELEN.parent / "london"
VIDEO = HELEN.parent / "video" / "WolfgangLanger_Pexels.mp4"


def _photos(limit: int | None) -> dict[str, list[Path]]:
    sets = {"london": sorted((LONDON / "neutral").glob("*.jpg")) + sorted((LONDON / "smiling").glob("*.jpg")),
            "helen_test": [path for path, _ in helen_split("testset")]}
    if limit:
        sets = {name: paths[::max(1, len(paths) // max(1, limit // len(sets)))] for name, paths in sets.items()}
    return sets


def _scores(photo: np.ndarray, render: np.ndarray, mask: np.ndarray) -> tuple[float, float]:
    """(PSNR dB, SSIM) of `render` against `photo` ((H, W, 3) uint8) inside the bool (H, W) `mask`."""
    rows, columns = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    box = (slice(rows[0], rows[-1] + 1), slice(columns[0], columns[-1] + 1))
    a, b, inside = photo[box].astype(np.float64) / 255, render[box].astype(np.float64) / 255, mask[box]
    psnr = float(10 * np.log10(1 / max(((a - b) ** 2)[inside].mean(), 1e-12)))
    luma = np.array([0.299, 0.587, 0.114])
    _, ssim_map = structural_similarity(a @ luma, b @ luma, data_range=1.0, full=True)
    return psnr, float(ssim_map[inside].mean())


class Renders:
    """The albedo render, the textured render and the frontal-face mask of one face, at the photo's size."""

    def __init__(self, reconstructor: Reconstructor, writer: OutputWriter) -> None:
        model = reconstructor.model
        self.reconstructor, self.atlas = reconstructor, writer.atlas
        narrow = model.regions["narrow_face"][model.triangles].all(1)
        self.front_triangles = model.triangles[narrow]

    def __call__(self, image: np.ndarray, face, texture) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        height, width = image.shape[:2]
        params, decoded = face.params, face.decoded
        screen = screen_in_image(decoded.vertices, params.scale, params.offset, self.reconstructor.crop.size,
                                 face.to_input[None])
        config = RendererConfig(image_size=(height, width))
        renderer = Renderer(self.reconstructor.model.triangles, torch.from_numpy(self.atlas.triangles_uv),
                            torch.from_numpy(self.atlas.uv), config)
        with torch.no_grad():
            albedo = renderer(decoded.vertices, screen, decoded.albedo, params.light).image
            pixels = torch.from_numpy(texture.image).permute(2, 0, 1)[None].float() / 255
            textured = renderer(decoded.vertices, screen, pixels, params.light).image
            _, alpha = Renderer(self.front_triangles, config=config).geometry(decoded.vertices, screen)
        to_image = lambda render: (render[0].permute(1, 2, 0).clamp(0, 1).numpy() * 255 + 0.5).astype(np.uint8)  # noqa: E731
        return to_image(albedo), to_image(textured), alpha[0, 0].numpy() > 0.99


def _video_seconds(reconstructor: Reconstructor, textured: bool) -> float:
    writer = OutputWriter(reconstructor) if textured else OutputWriter(reconstructor, texture=None)
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        writer.video(VIDEO, Path(folder) / "video")
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--method", choices=METHODS, default=FAST_METHOD)
    parser.add_argument("--limit", type=int, default=None, help="about this many photos in all (every k-th)")
    parser.add_argument("--video", action="store_true", help="also time the sample video with and without")
    parser.add_argument("--video-runs", type=int, default=2)
    args = parser.parse_args()
    reconstructor = Reconstructor(ReconstructorConfig(method=args.method))
    writer = OutputWriter(reconstructor)
    builder = TextureBuilder(reconstructor.model, writer.texture_config)
    renders = Renders(reconstructor, writer)
    rows, times = {}, []
    for name, paths in _photos(args.limit).items():
        scores, missed = {"albedo": [], "textured": []}, 0
        for path in paths:
            image = load_image(path)
            faces = reconstructor.reconstruct(image)
            if not faces:
                missed += 1
                continue
            start = time.perf_counter()
            texture = face_texture(builder, image, faces[0], reconstructor.crop.size)
            times.append(1000 * (time.perf_counter() - start))
            albedo, textured, mask = renders(image, faces[0], texture)
            if mask.sum() < 100:
                missed += 1
                continue
            scores["albedo"].append(_scores(image, albedo, mask))
            scores["textured"].append(_scores(image, textured, mask))
        row = {"photos": len(scores["albedo"]), "missed": missed}
        for kind, values in scores.items():
            values = np.asarray(values)
            row[f"psnr_{kind}_db"], row[f"ssim_{kind}"] = float(values[:, 0].mean()), float(values[:, 1].mean())
        rows[f"{name}_{args.method}"] = row
        print(f"{name} ({args.method}, {row['photos']} photos, {missed} missed): PSNR albedo render "
              f"{row['psnr_albedo_db']:.2f} dB, textured {row['psnr_textured_db']:.2f} dB; SSIM albedo "
              f"{row['ssim_albedo']:.3f}, textured {row['ssim_textured']:.3f}", flush=True)
    speed = {"texture_ms_median": float(np.median(times)), "texture_ms_p90": float(np.percentile(times, 90)),
             "faces": len(times), "size": f"{2 * writer.texture_config.size} x {writer.texture_config.size}"}
    print(f"texture build: median {speed['texture_ms_median']:.1f} ms, p90 {speed['texture_ms_p90']:.1f} ms a face "
          f"({speed['size']} px, {len(times)} faces)")
    if args.video:
        plain, textured = [], []
        for _ in range(args.video_runs):
            plain.append(_video_seconds(reconstructor, False))
            textured.append(_video_seconds(reconstructor, True))
        speed.update(video_s_plain=float(np.median(plain)), video_s_textured=float(np.median(textured)),
                     video_ratio=float(np.median(textured) / np.median(plain)))
        print(f"sample video ({args.video_runs} alternating runs each): without texture "
              f"{speed['video_s_plain']:.1f} s, with {speed['video_s_textured']:.1f} s: {speed['video_ratio']:.3f}x")
    rows["speed"] = speed
    record("texture", rows)


if __name__ == "__main__":
    main()

"""Foundation numbers: ICT load time and renderer speed (forward, forward+backward; batch 1 and 16).

Run: `make bench` (or `.venv/bin/python benchmarks/bench_foundation.py`). Prints one line per figure; the
figures go to out/report/figures.json ("foundation").
Targets (issue "Foundation"): load < 0.5 s warm; 224x224 batch 1 forward <= 10 ms, forward+backward
<= 30 ms (median over 50 runs after warm-up); on a GPU with nvdiffrast >= 10,000 images/s at batch 256.
"""

import argparse
import platform
import statistics
import time

import torch
from figures import record

from emoca.facemodel.ict import ICTFaceModel
from emoca.render.camera import weak_perspective
from emoca.render.renderer import Renderer, RendererConfig
from emoca.render.shading import default_light

RUNS, WARMUP = 50, 5


def _median_ms(step, runs: int = RUNS, warmup: int = WARMUP) -> float:
    for _ in range(warmup):
        step()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        step()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def bench_load() -> float:
    ICTFaceModel()  # fills the cache
    return _median_ms(ICTFaceModel, runs=5, warmup=1) / 1000


def bench_render(model: ICTFaceModel, batch: int, device: str = "cpu") -> tuple[float, float]:
    renderer = Renderer(model.triangles, config=RendererConfig(image_size=(224, 224))).to(device)
    generator = torch.Generator().manual_seed(0)
    params = model.neutral_parameters(batch)
    params["identity"] = torch.randn(batch, model.n_identity, generator=generator)
    params["rotation"][:, 1] = torch.linspace(-0.5, 0.5, batch)
    with torch.no_grad():
        vertices = model(**params).vertices.to(device)
    albedo = torch.full((model.n_vertices, 3), 0.6, device=device)
    light = default_light(batch, device=device)
    scale = torch.full((batch,), 0.05, device=device)
    offset = torch.zeros(batch, 2, device=device)

    def forward():
        with torch.no_grad():
            screen = weak_perspective(vertices, scale, offset, (224, 224))
            renderer(vertices, screen, albedo, light)

    def forward_backward():
        v = vertices.clone().requires_grad_(True)
        screen = weak_perspective(v, scale, offset, (224, 224))
        renderer(v, screen, albedo, light).image.mean().backward()

    return _median_ms(forward), _median_ms(forward_backward)


def main() -> None:
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads, "
          f"torch {torch.__version__}")
    load = bench_load()
    print(f"ICT load (warm, median of 5): {load:.3f} s  [target < 0.5 s]")
    model = ICTFaceModel()
    print(f"render mesh: {model.n_vertices} vertices, {len(model.triangles)} triangles, 224x224")
    rows = {"ict load": {"seconds": round(load, 3)}}
    for batch in (1, 16):
        fwd, fwd_bwd = bench_render(model, batch)
        rows[f"render cpu, batch {batch}"] = {"forward_ms_per_image": round(fwd / batch, 1),
                                              "forward_backward_ms_per_image": round(fwd_bwd / batch, 1)}
        print(f"CPU batch {batch}: forward {fwd / batch:.1f} ms/image, forward+backward {fwd_bwd / batch:.1f} "
              "ms/image" + ("  [targets <= 10, <= 30 ms]" if batch == 1 else ""))
    if torch.cuda.is_available():
        fwd, _ = bench_render(model.cuda(), 256, "cuda")
        rows["render gpu, batch 256"] = {"images_per_second": round(256 / (fwd / 1000))}
        print(f"GPU batch 256: {256 / (fwd / 1000):.0f} images/s forward  [target >= 10,000]")
    else:
        print("GPU: no CUDA device here; GPU throughput not measured")
    record("foundation", rows)

if __name__ == "__main__":
    main()

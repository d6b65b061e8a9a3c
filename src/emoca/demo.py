"""The default job until reconstruction lands: the ICT face with a random identity and a few named
expressions, rendered (colour | geometry) to PNGs, plus the animatable mesh as GLB and OBJ."""

from dataclasses import dataclass, field
from pathlib import Path

import torch

from emoca.facemodel.ict import ICTConfig, ICTFaceModel
from emoca.io.image_output import save_image
from emoca.io.mesh_export import write_glb, write_obj
from emoca.render.camera import weak_perspective
from emoca.render.renderer import Renderer, RendererConfig
from emoca.render.shading import default_light

# Named expressions as ICT blendshape weights (everything else 0).
EXPRESSIONS: dict[str, dict[str, float]] = {
    "neutral": {},
    "smile": {"mouthSmile_L": 1.0, "mouthSmile_R": 1.0, "cheekSquint_L": 0.5, "cheekSquint_R": 0.5,
              "eyeSquint_L": 0.3, "eyeSquint_R": 0.3},
    "surprise": {"browInnerUp_L": 1.0, "browInnerUp_R": 1.0, "browOuterUp_L": 1.0, "browOuterUp_R": 1.0,
                 "eyeWide_L": 0.8, "eyeWide_R": 0.8, "jawOpen": 0.5},
    "anger": {"browDown_L": 1.0, "browDown_R": 1.0, "noseSneer_L": 0.6, "noseSneer_R": 0.6,
              "mouthPress_L": 0.7, "mouthPress_R": 0.7, "eyeSquint_L": 0.5, "eyeSquint_R": 0.5},
    "sad": {"browInnerUp_L": 0.8, "browInnerUp_R": 0.8, "mouthFrown_L": 1.0, "mouthFrown_R": 1.0,
            "mouthShrugLower": 0.5},
    "jaw_open": {"jawOpen": 0.8},
}


@dataclass
class DemoConfig:
    """seed: random identity seed. identity_scale: std of the identity weights (1 = the PCA prior).
    image_size: pixels (square). skin: RGB albedo in [0, 1]. yaw: head turn in radians."""

    seed: int = 0
    identity_scale: float = 1.0
    image_size: int = 512
    skin: tuple[float, float, float] = (0.78, 0.6, 0.5)
    yaw: float = 0.35
    expressions: dict[str, dict[str, float]] = field(default_factory=lambda: dict(EXPRESSIONS))


def render_demo(out_dir: str | Path, config: DemoConfig | None = None, ict_path: str | None = None) -> list[Path]:
    """Render every named expression of one random identity and export the mesh; returns the files."""
    config = config or DemoConfig()
    out_dir = Path(out_dir)
    model = ICTFaceModel(ICTConfig(path=ict_path))
    size = (config.image_size, config.image_size)
    renderer = Renderer(model.triangles, model.triangles_uv, model.uv, RendererConfig(image_size=size))
    names = list(config.expressions)
    batch = len(names)
    generator = torch.Generator().manual_seed(config.seed)
    identity = torch.randn(1, model.n_identity, generator=generator) * config.identity_scale
    params = model.neutral_parameters(batch)
    params["identity"] = identity.expand(batch, -1)
    for row, name in enumerate(names):
        for shape, weight in config.expressions[name].items():
            params["expression"][row, model.expression_index(shape)] = weight
    params["rotation"][:, 1] = config.yaw
    with torch.no_grad():
        faces = model(**params)
        # Frame the head: ~34 cm tall model -> most of the image, centred slightly above the chin.
        scale = torch.full((batch,), 1.75 / 34.0)
        screen = weak_perspective(faces.vertices, scale, torch.tensor([[0.0, 0.1]]).expand(batch, -1), size)
        albedo = torch.tensor(config.skin).expand(model.n_vertices, 3)
        colour = renderer(faces.vertices, screen, albedo, default_light(batch)).image
        geometry, _ = renderer.geometry(faces.vertices, screen)
    written = []
    for row, name in enumerate(names):
        path = out_dir / f"{name}.png"
        save_image(path, torch.cat([colour[row], geometry[row]], dim=2))
        written.append(path)
    unposed = model.shape(identity, torch.zeros(1, len(model.expression_names)))[0]
    triangles, uv, triangles_uv = model.triangles.numpy(), model.uv.numpy(), model.triangles_uv.numpy()
    write_obj(out_dir / "face.obj", unposed.numpy(), triangles, model.units, uv, triangles_uv)
    write_glb(out_dir / "face.glb", unposed.numpy(), triangles, model.units, model.expression_basis.numpy(),
              model.expression_names, uv, triangles_uv)
    return written + [out_dir / "face.obj", out_dir / "face.glb"]

"""SYNTHETIC scenes: seeded renders of ICT faces with known parameters (rendered faces, not photos).

Each scene has a random identity, a sparse random expression, head pose, SH light, albedo (dark to
light skin tones) and a graded background, framed by a weak-perspective camera in a `SIZE`-pixel
image. Used by the SYNTHETIC benchmarks (seed 7 and the seeds they name) and, with seeds of their
own, by learners that want exact ground truth (`emoca.train.identity_head`).
"""

import numpy as np
import torch

from emoca.decode.albedo import AlbedoModel
from emoca.facemodel.ict import ICTFaceModel
from emoca.render.camera import weak_perspective
from emoca.render.renderer import Renderer, RendererConfig

SIZE = 320


def random_scene(model: ICTFaceModel, albedo: AlbedoModel, generator: torch.Generator) -> dict:
    """One scene: "params" (the model's parameters, batch of one), "colours" (albedo parameters),
    "light" (1, 9, 3) SH, "background" (1, 3, SIZE, SIZE), "scale" (1,) and "offset" (1, 2)."""
    rand = lambda *shape: torch.rand(*shape, generator=generator)  # noqa: E731
    params = model.neutral_parameters(1)
    params["identity"] = torch.randn(1, model.n_identity, generator=generator) * 0.8
    expression = rand(1, len(model.expression_names)) * 0.8
    params["expression"] = expression * (rand(1, len(model.expression_names)) < 0.1)
    params["rotation"] = (rand(1, 3) - 0.5) * torch.tensor([0.5, 1.0, 0.3])
    colours = albedo.neutral_parameters(1)
    tone = 0.25 + 0.6 * rand(1)  # dark to light skin
    colours["colours"][0, 0] = tone * torch.tensor([1.0, 0.8, 0.68]) + 0.05 * (rand(3) - 0.5)
    colours["coefficients"] = (rand(1, albedo.n_coefficients, 3) - 0.5) * 0.08
    light = torch.zeros(1, 9, 3)
    light[0, 0] = 1.6 + 1.4 * rand(1)
    light[0, 1:4] = ((rand(3) - 0.5) * 1.2)[:, None]
    background = rand(1, 3, 1, 1) * torch.linspace(0.3, 1.0, SIZE)[None, None, :, None].expand(1, 3, SIZE, SIZE)
    return {"params": params, "colours": colours, "light": light, "background": background,
            "scale": 0.055 + 0.02 * rand(1), "offset": (rand(1, 2) - 0.5) * 0.2}


class SceneRenderer:
    """Renders scenes of `model` to (SIZE, SIZE, 3) uint8 RGB photos."""

    def __init__(self, model: ICTFaceModel, albedo: AlbedoModel) -> None:
        self.model, self.albedo = model, albedo
        self.renderer = Renderer(model.triangles, config=RendererConfig(image_size=(SIZE, SIZE)))

    def __call__(self, scene: dict, gaze: torch.Tensor | None = None) -> np.ndarray:
        """The scene as a photo; `gaze` (1, 2) [yaw, pitch] radians turns the eyes (ICT's own gaze)."""
        with torch.no_grad():
            posed = self.model(**scene["params"], gaze=gaze).vertices
            screen = weak_perspective(posed, scene["scale"], scene["offset"], (SIZE, SIZE))
            image = self.renderer(posed, screen, self.albedo(**scene["colours"]), scene["light"],
                                  scene["background"]).image
        return (image[0].permute(1, 2, 0).clamp(0, 1).numpy() * 255 + 0.5).astype(np.uint8)

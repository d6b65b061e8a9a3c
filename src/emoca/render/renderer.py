"""The renderer: screen vertices + albedo + SH light -> antialiased images, and the geometry view."""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from emoca.render.antialias import antialias, edge_neighbours
from emoca.render.rasterize import Rasterization, interpolate, rasterize
from emoca.render.shading import VertexNormals, default_light, sh_shading


@dataclass
class RendererConfig:
    """image_size: (height, width) pixels. antialias: blend silhouettes (gives outline gradients).
    geometry_albedo: grey level of the shaded geometry view."""

    image_size: tuple[int, int] = (224, 224)
    antialias: bool = True
    geometry_albedo: float = 0.7


@dataclass
class RenderOutput:
    """Images are channels-first, values nominally in [0, 1] (not clamped, to keep gradients).

    image: (B, 3, H, W) colour composited over the background, antialiased.
    alpha: (B, 1, H, W) coverage, antialiased at the silhouette (a soft mask).
    rasterization: which triangle each pixel sees.
    The per-pixel terms `albedo`, `shading` and `normals` ((B, 3, H, W), zero off the mesh) are
    scattered into images only when read.
    """

    image: torch.Tensor
    alpha: torch.Tensor
    rasterization: Rasterization
    pixel_albedo: torch.Tensor  # (N, 3) at rasterization.pixels
    pixel_shading: torch.Tensor
    pixel_normals: torch.Tensor

    @property
    def albedo(self) -> torch.Tensor:
        return _channels_first(self.rasterization.to_image(self.pixel_albedo))

    @property
    def shading(self) -> torch.Tensor:
        return _channels_first(self.rasterization.to_image(self.pixel_shading))

    @property
    def normals(self) -> torch.Tensor:
        return _channels_first(self.rasterization.to_image(self.pixel_normals))


def pixel_shading(normals: torch.Tensor, light: torch.Tensor, rast: Rasterization) -> torch.Tensor:
    """SH irradiance (N, 3) at the covered pixels from their unit normals (N, 3) and light (B, 9, 3)."""
    if light.shape[0] == 1:
        return sh_shading(normals[None], light)[0]
    counts = torch.bincount(rast.pixel_batch, minlength=light.shape[0]).tolist()  # pixels are batch-sorted
    return torch.cat([sh_shading(part[None], light[b:b + 1])[0] for b, part in enumerate(normals.split(counts))])


def _channels_first(image: torch.Tensor) -> torch.Tensor:
    return image.permute(0, 3, 1, 2)


class Renderer(nn.Module):
    """Renders one mesh topology.

    Args:
        triangles: (F, 3) long vertex indices, counter-clockwise seen from outside.
        triangles_uv: optional (F, 3) long indices into the UV array, for texture albedo.
        uv: optional (T, 2) texture coordinates in [0, 1], v up.
        config: image size and options.
    """

    def __init__(self, triangles: torch.Tensor, triangles_uv: torch.Tensor | None = None,
                 uv: torch.Tensor | None = None, config: RendererConfig | None = None) -> None:
        super().__init__()
        self.config = config or RendererConfig()
        self.register_buffer("triangles", triangles.long())
        self.register_buffer("neighbours", torch.from_numpy(edge_neighbours(triangles.cpu().numpy())))
        self.vertex_normals = VertexNormals(self.triangles.cpu(), int(triangles.max()) + 1)
        self.register_buffer("triangles_uv", None if triangles_uv is None else triangles_uv.long())
        self.register_buffer("uv", uv)

    def _albedo(self, albedo: torch.Tensor, rast: Rasterization) -> torch.Tensor:
        """A (B, 3, Ht, Wt) UV texture -> (N, 3) albedo at the covered pixels."""
        if self.uv is None:
            raise ValueError("a texture albedo needs the renderer's uv and triangles_uv")
        uv = rast.to_image(interpolate(self.uv, rast, self.triangles_uv))
        grid = torch.stack([uv[..., 0] * 2 - 1, 1 - uv[..., 1] * 2], -1)  # v up -> texture rows down
        sampled = F.grid_sample(albedo, grid, mode="bilinear", padding_mode="border", align_corners=False)
        return sampled.permute(0, 2, 3, 1).reshape(-1, albedo.shape[1])[rast.pixels]

    def forward(self, vertices: torch.Tensor, screen: torch.Tensor, albedo: torch.Tensor,
                light: torch.Tensor, background: torch.Tensor | None = None) -> RenderOutput:
        """Render shaded faces.

        Args:
            vertices: (B, V, 3) posed vertices in camera-aligned axes (+z to the camera); used for
                normals, so the light is fixed to the camera.
            screen: (B, V, 4) screen vertices from a camera in `emoca.render.camera`.
            albedo: (B, V, 3) or (V, 3) per-vertex colour in [0, 1], or a (B, 3, Ht, Wt) UV texture.
            light: (B, 9, 3) SH coefficients.
            background: optional (B, 3, H, W) image behind the face; black when None.
        """
        rast = rasterize(screen, self.triangles, self.config.image_size)
        vertex_normals = self.vertex_normals(vertices)
        if albedo.dim() == 4:
            normals, albedo_pixels = interpolate(vertex_normals, rast), self._albedo(albedo, rast)
        else:  # one gather for both per-vertex attributes
            both = torch.cat([vertex_normals, albedo.expand(vertices.shape[0], -1, -1)], -1)
            normals, albedo_pixels = interpolate(both, rast).split(3, dim=-1)
        normals = F.normalize(normals, dim=-1, eps=1e-12)
        # Shading is evaluated at the covered pixels only, then scattered into the image.
        shading = pixel_shading(normals, light, rast)
        image, alpha = self._composite(albedo_pixels * shading, rast, screen, background)
        return RenderOutput(image=image, alpha=alpha, rasterization=rast, pixel_albedo=albedo_pixels,
                            pixel_shading=shading, pixel_normals=normals)

    def _composite(self, colours: torch.Tensor, rast: Rasterization, screen: torch.Tensor,
                   background: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """Covered pixels' colours (N, 3) -> image (B, 3, H, W) over `background` (black when None) and
        alpha (B, 1, H, W), antialiased at the silhouettes if configured."""
        layers = rast.to_image(torch.cat([colours, torch.ones_like(colours[:, :1])], -1))  # one scatter
        if background is not None:
            layers = layers + F.pad((1 - layers[..., 3:]) * background.permute(0, 2, 3, 1), (0, 1))
        if self.config.antialias:
            layers = antialias(layers, rast, screen, self.triangles, self.neighbours)
        return _channels_first(layers[..., :3]), _channels_first(layers[..., 3:])

    def geometry(self, vertices: torch.Tensor, screen: torch.Tensor,
                 background: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The shaded grey "geometry" view for visualisation: image (B, 3, H, W) over `background` (black
        when None, i.e. premultiplied) and the antialiased coverage alpha (B, 1, H, W). Shaded per vertex
        and interpolated (Gouraud): on these dense meshes (a triangle spans a few pixels) it is the
        per-pixel shading of `forward` within a grey level on average (0.15 of 255 on a video frame), in
        0.75-0.8 of its time (a 360 x 384 window of the sample video: 15.5 vs 20.7 ms, 14.1 vs 17.2 ms)."""
        light = default_light(vertices.shape[0], vertices.dtype, vertices.device)
        colours = sh_shading(self.vertex_normals(vertices), light) * self.config.geometry_albedo
        rast = rasterize(screen, self.triangles, self.config.image_size)
        return self._composite(interpolate(colours, rast), rast, screen, background)

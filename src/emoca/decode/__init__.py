"""`FaceParams` to meshes, landmarks and colours on the crop (`FaceDecoder`), and the parts it owns:
model-specific terms, albedo, the silhouette jawline, ICT's expression correctives, crop <-> photo maps."""

from emoca.decode.decoder import Decoded, FaceDecoder

__all__ = ["Decoded", "FaceDecoder"]

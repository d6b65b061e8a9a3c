"""`emoca emotion`: expression class, 8 probabilities, valence and arousal per face, from the image (the
recogniser on the face crop) or from geometry (the reconstruction's expression parameters alone)."""

from pathlib import Path

import numpy as np
import torch

from emoca.batch.report import BatchReport, iterate_images
from emoca.detect.crops import CropConfig, crop_faces
from emoca.emotions import FaceEmotion
from emoca.errors import InputError
from emoca.io.images import load_image
from emoca.methods import FAST_METHOD
from emoca.nets.emotion import EmotionNet, face_emotions, load_emotion_net


class ImageEmotion:
    """The recogniser on each detected face's crop (or, without detection, on the whole image)."""

    def __init__(self, detect: bool, weights: str | None) -> None:
        self.net = load_emotion_net(weights)
        self.landmarker = None
        if detect:
            from emoca.detect.pipeline import FaceLandmarker

            self.landmarker = FaceLandmarker()

    def __call__(self, path: Path) -> list[FaceEmotion]:
        image = load_image(path)
        if self.landmarker is None:
            crops = image[None]
        else:
            faces = self.landmarker(image)
            if not faces:
                raise InputError(path, "no face found")
            crops = crop_faces(image, np.stack([f.landmarks_68 for f in faces]), CropConfig()).images
        return image_emotions(self.net, crops)


class GeometryEmotion:
    """Reconstruct each face (`method`, ICT), then the emotion head on its expression parameters."""

    def __init__(self, method: str) -> None:
        from emoca.pipeline.photo import Reconstructor, ReconstructorConfig

        self.reconstructor = Reconstructor(ReconstructorConfig(method=method))
        if self.reconstructor.geometry_emotion is None:
            raise InputError("--method", f"no emotion-from-geometry head for {method}")

    def __call__(self, path: Path) -> list[FaceEmotion]:
        faces = self.reconstructor.reconstruct(path)
        if not faces:
            raise InputError(path, "no face found")
        return [face.emotion for face in faces]


def image_emotions(net: EmotionNet, crops: np.ndarray) -> list[FaceEmotion]:
    """The recogniser's `FaceEmotion` of (F, H, W, 3) uint8 face crops (mirror-averaged)."""
    with torch.no_grad():
        return face_emotions(net.predict(torch.from_numpy(crops).permute(0, 3, 1, 2).float().div(255)), "image")


def run_emotion(inputs: list[str], as_json: bool, detect: bool = True, weights: str | None = None,
                source: str = "image", method: str = FAST_METHOD) -> int:
    """Recognise the emotion of every face of each input, from `source` ("image": the recogniser, on
    detected faces or, with `detect=False`, on each image as one crop; "geometry": reconstructed with
    `method` first); prints JSON lines (or a short line per face); returns the exit status."""
    recognise = ImageEmotion(detect, weights) if source == "image" else GeometryEmotion(method)
    report = BatchReport(as_json)
    for item in iterate_images(inputs, report):
        path = item.path
        try:
            emotions = recognise(path)
        except InputError as error:
            report.error(error)
            continue
        except Exception as error:  # noqa: BLE001 - a bug must not end the batch nor show a traceback
            report.unexpected(path, error)
            continue
        report.succeeded()
        for index, emotion in enumerate(emotions):
            if as_json:
                report.emit({"image": str(path), "face_index": index, **emotion.to_json()})
            else:
                print(f"{path} face {index}: {emotion.expression} (valence {emotion.valence:+.2f}, "
                      f"arousal {emotion.arousal:+.2f}; from {emotion.source})", flush=True)
    return report.finish()

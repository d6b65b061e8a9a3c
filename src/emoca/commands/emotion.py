"""`emoca emotion`: expression class, 8 probabilities, valence and arousal per face."""

from pathlib import Path

import numpy as np
import torch

from emoca.commands.batch import BatchReport, iterate_images
from emoca.detect.crops import CropConfig, crop_faces
from emoca.emotions import EMOTIONS
from emoca.errors import InputError
from emoca.io.images import load_image
from emoca.nets.emotion import EmotionNet, load_emotion_net


def emotion_records(net: EmotionNet, image_path: Path, crops: np.ndarray) -> list[dict]:
    """JSON records for (F, H, W, 3) uint8 face crops of one image."""
    with torch.no_grad():
        out = net.predict(torch.from_numpy(crops).permute(0, 3, 1, 2).float().div(255))
    records = []
    for i in range(len(crops)):
        probabilities = out.probabilities[i].tolist()
        named = {name: round(p, 4) for name, p in zip(EMOTIONS, probabilities, strict=True)}
        records.append({"image": str(image_path), "face_index": i,
                        "expression": EMOTIONS[int(np.argmax(probabilities))], "probabilities": named,
                        "valence": round(float(out.valence[i]), 4), "arousal": round(float(out.arousal[i]), 4),
                        "va_supervised": out.va_supervised, "source": "image"})
    return records


def run_emotion(inputs: list[str], as_json: bool, detect: bool, weights: str | None = None) -> int:
    """Recognise the emotion of every face (or, with `detect=False`, of each image as one face crop);
    prints JSON lines (or a short line per face); returns the exit status."""
    net = load_emotion_net(weights)
    report = BatchReport(as_json)
    landmarker = None
    if detect:
        from emoca.detect.pipeline import FaceLandmarker

        landmarker = FaceLandmarker()
    for path in iterate_images(inputs, report):
        try:
            image = load_image(path)
            if landmarker is None:
                crops = image[None]
            else:
                faces = landmarker(image)
                if not faces:
                    raise InputError(path, "no face found")
                crops = crop_faces(image, np.stack([f.landmarks_68 for f in faces]), CropConfig()).images
        except InputError as error:
            report.error(error)
            continue
        for record in emotion_records(net, path, crops):
            if as_json:
                report.emit(record)
            else:
                print(f"{record['image']} face {record['face_index']}: {record['expression']} "
                      f"(valence {record['valence']:+.2f}, arousal {record['arousal']:+.2f})", flush=True)
    return report.exit_status

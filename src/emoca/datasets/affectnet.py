"""AffectNet in its official CSV layout, for users who hold it (it cannot be shipped).

Columns: `subDirectory_filePath, face_x, face_y, face_width, face_height, facial_landmarks, expression,
valence, arousal`. Expression codes 0-7 are neutral, happy, sad, surprise, fear, disgust, anger,
contempt (the order of `emoca.nets.emotion.EMOTIONS`); 8 none, 9 uncertain, 10 no face are dropped.
Valence/arousal are in [-1, 1]; -2 marks a missing value (kept as NaN).
"""

import csv
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from emoca.datasets.faces import FaceSet
from emoca.errors import InputError
from emoca.io.images import load_image

N_CLASSES = 8
COLUMNS = ("subDirectory_filePath", "face_x", "face_y", "face_width", "face_height", "facial_landmarks",
           "expression", "valence", "arousal")


@dataclass
class AffectNetRecord:
    """One CSV row: image path, face box (x, y, width, height) in pixels, 68 landmarks (68, 2) or None,
    expression code, valence, arousal (NaN when -2)."""

    path: Path
    box: tuple[float, float, float, float]
    landmarks: np.ndarray | None
    expression: int
    valence: float
    arousal: float


def read_affectnet_csv(csv_path: str | Path, image_root: str | Path) -> list[AffectNetRecord]:
    """Rows of an AffectNet CSV with an emotion label (codes 0-7), paths resolved under `image_root`."""
    csv_path, root = Path(csv_path), Path(image_root)
    records = []
    try:
        with open(csv_path, newline="") as handle:
            reader = csv.DictReader(handle)
            missing = set(COLUMNS) - set(reader.fieldnames or [])
            if missing:
                raise InputError(csv_path, f"not an AffectNet CSV (missing columns: {', '.join(sorted(missing))})")
            for row in reader:
                expression = int(row["expression"])
                if not 0 <= expression < N_CLASSES:
                    continue
                values = [float(v) for v in row["facial_landmarks"].split(";") if v.strip()]
                landmarks = np.asarray(values).reshape(-1, 2) if len(values) == 136 else None
                valence, arousal = (float(row[k]) for k in ("valence", "arousal"))
                records.append(AffectNetRecord(
                    root / row["subDirectory_filePath"],
                    tuple(float(row[k]) for k in ("face_x", "face_y", "face_width", "face_height")),
                    landmarks, expression, np.nan if valence == -2 else valence, np.nan if arousal == -2 else arousal))
    except (OSError, ValueError, KeyError) as error:
        raise InputError(csv_path, f"cannot read AffectNet CSV ({error})") from None
    return records


def load_affectnet(csv_path: str | Path, image_root: str | Path, size: int = 48) -> FaceSet:
    """Grey `size`-px face crops (the CSV's face boxes) with one-hot targets and V/A labels."""
    images, labels, va = [], [], []
    for record in read_affectnet_csv(csv_path, image_root):
        image = load_image(record.path)
        x, y, w, h = (int(round(v)) for v in record.box)
        face = image[max(y, 0):y + h, max(x, 0):x + w]
        if face.size == 0:
            raise InputError(record.path, f"face box {record.box} lies outside the image")
        grey = cv2.cvtColor(face, cv2.COLOR_RGB2GRAY)
        images.append(cv2.resize(grey, (size, size), interpolation=cv2.INTER_AREA))
        labels.append(record.expression)
        va.append((record.valence, record.arousal))
    labels_array = np.asarray(labels, np.int64)
    return FaceSet(np.stack(images), np.eye(N_CLASSES, dtype=np.float32)[labels_array], labels_array,
                   np.asarray(va, np.float32))

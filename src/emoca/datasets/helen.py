"""HELEN with 300-W 68-point annotations (`../shared/data/helen/{trainset,testset}`)."""

from pathlib import Path

import numpy as np

from emoca.errors import InputError

DEFAULT_ROOT = Path(__file__).resolve().parents[4] / "shared" / "data" / "helen"


def read_pts(path: str | Path) -> np.ndarray:
    """A 300-W `.pts` file -> (68, 2) points in 0-based pixels (the file is 1-based)."""
    path = Path(path)
    try:
        body = path.read_text().split("{")[1].split("}")[0]
        points = np.asarray(body.split(), np.float64).reshape(-1, 2)
    except (OSError, IndexError, ValueError) as error:
        raise InputError(path, f"not a 300-W .pts file ({error})") from None
    return points - 1.0


def helen_split(split: str, root: str | Path | None = None) -> list[tuple[Path, np.ndarray]]:
    """(image path, (68, 2) ground truth in 0-based pixels) for every annotated image of a split
    ("trainset" or "testset"), sorted by name."""
    folder = Path(root or DEFAULT_ROOT) / split
    return [(image, read_pts(image.with_suffix(".pts"))) for image in sorted(folder.glob("*.jpg"))]


def nme(predicted: np.ndarray, truth: np.ndarray) -> float:
    """300-W normalised mean error: mean point distance over the outer-eye-corner distance (points 36, 45)."""
    return float(np.linalg.norm(predicted[:, :2] - truth, axis=1).mean() / np.linalg.norm(truth[36] - truth[45]))


FAILURE_NME = 0.10  # a photo whose NME is above this is a failure; the mean is taken over the rest


def nme_figures(errors: list[float]) -> dict[str, float]:
    """{"nme": mean NME (%) over photos with NME <= 10%, "failure": % of photos above (inf: no face found)}."""
    values = np.asarray(errors)
    ok = values <= FAILURE_NME
    return {"nme": round(100 * float(values[ok].mean()), 2), "failure": round(100 * (1 - float(ok.mean())), 1)}


def nme_summary(errors: list[float]) -> str:
    """"mean NME (<=10%) M%, failure F%" of per-photo NMEs (inf: no face found, a failure)."""
    figures = nme_figures(errors)
    return f"mean NME (<=10%) {figures['nme']:.2f}%, failure {figures['failure']:.1f}%"

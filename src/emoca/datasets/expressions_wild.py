"""The in-the-wild expression photos of `../shared/data/expressions_wild` (`labels.csv`: file, emotion,
subject, split; see that folder's README)."""

import csv
from dataclasses import dataclass
from pathlib import Path

from emoca.errors import InputError

DEFAULT_ROOT = Path(__file__).resolve().parents[4] / "shared" / "data" / "expressions_wild"


@dataclass(frozen=True)
class WildPhoto:
    """One labelled photo: its path, emotion class name, subject (LFW name or file stem) and split."""

    path: Path
    emotion: str
    subject: str
    split: str


def wild_photos(split: str, root: str | Path | None = None) -> list[WildPhoto]:
    """Every photo of `split` ("train" or "valid") in `labels.csv` order.

    Raises:
        InputError: no `labels.csv` under `root`.
    """
    root = Path(root or DEFAULT_ROOT)
    labels = root / "labels.csv"
    if not labels.is_file():
        raise InputError(labels, "missing: the expressions_wild folder needs its labels.csv")
    with open(labels, newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [WildPhoto(root / "images" / row["file"], row["emotion"], row["subject"], row["split"])
            for row in rows if row["split"] == split]

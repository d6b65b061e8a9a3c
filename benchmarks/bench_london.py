"""London set: does a smile raise mouthSmile, and is a person's identity their own across expressions?

Reconstructs the 102 neutral and 102 smiling London photos with the default method into
out/benchmarks/london (every photo redone on each run), then scores them like
`../shared/checks/eval_london.py`. Targets (issue "emoca reconstruct"): smiling > neutral
mouthSmile_L+R in >= 95% of pairs; the smiling photo's identity is nearest (cosine) to the same person's
neutral identity for >= 90% of people.
Run: `.venv/bin/python benchmarks/bench_london.py` (part of `make bench`; about 3 minutes). The figures go to
out/report/figures.json ("london").
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from figures import ROOT, record

from emoca.datasets.helen import DEFAULT_ROOT as HELEN

OUT = ROOT / "out" / "benchmarks" / "london"


def first_faces(folder: Path) -> dict[str, dict]:
    faces = {}
    for path in sorted(folder.glob("*/params.json")):
        found = json.loads(path.read_text())["faces"]
        if found:
            faces[path.parent.name] = found[0]
    return faces


def main() -> None:
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    london = HELEN.parent / "london"
    for kind in ("neutral", "smiling"):
        subprocess.run([str(Path(sys.executable).with_name("emoca")), "reconstruct", str(london / kind), "--out",
                        str(OUT / kind), "--overwrite"], check=False)  # today's code, not an earlier run's files
    neutral, smiling = first_faces(OUT / "neutral"), first_faces(OUT / "smiling")
    people = sorted(set(neutral) & set(smiling))
    smile = lambda face: face["expression"]["mouthSmile_L"] + face["expression"]["mouthSmile_R"]  # noqa: E731
    difference = np.array([smile(smiling[p]) - smile(neutral[p]) for p in people])
    a = np.array([neutral[p]["identity"] for p in people])
    b = np.array([smiling[p]["identity"] for p in people])
    a /= np.linalg.norm(a, axis=1, keepdims=True)
    b /= np.linalg.norm(b, axis=1, keepdims=True)
    nearest = ((b @ a.T).argmax(1) == np.arange(len(people))).mean()
    print(f"London, {len(people)} people: smiling > neutral mouthSmile in {100 * (difference > 0).mean():.1f}% "
          f"(mean difference {difference.mean():.3f})  [target >= 95%]")
    print(f"  identity of the smiling photo nearest to the same person's neutral: {100 * nearest:.1f}%  "
          "[target >= 90%]")
    record("london", {"default method": {"people": len(people), "smiles": round(100 * (difference > 0).mean(), 1),
                                         "mean_difference": round(float(difference.mean()), 3),
                                         "identity": round(100 * nearest, 1)}})


if __name__ == "__main__":
    main()

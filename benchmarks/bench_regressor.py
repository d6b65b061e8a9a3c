"""The regressor's ablation: emotion fidelity, London smiles/identity/clean neutrals, per method.

Run: `.venv/bin/python benchmarks/bench_regressor.py [--rows fit,stage2,...] [--no-helen]` (part of `make bench`).
Each row runs `emoca reconstruct` (the CLI, as a user would) on the expressions_wild *valid* photos and
the 204 London photos into out/benchmarks/ablation/ROW/ (every photo redone on each run), then scores
the outputs with the acceptance checks in ../shared/checks: `eval_fidelity.py` (the
independent judge's class on render.png vs the photo) and `eval_london.py`. Rows: the fitter; the
fitter with the emotion term; stage 1 (the coarse encoder's own expression); stage 2 without the
emotion loss (the control); stage 2 (EMOCA); regress+fit; regress+identity (that fit with the
regressor's expression held); `--method emoca` without its emotion term (the test-time control) and
with it. A grid of photo crops and each row's render.png, one expressions_wild valid photo per class,
goes to out/benchmarks/ablation/samples.png and the report. Targets (issue "The EMOCA regressor", stage
2): fidelity >= the fitter + 10 points and >= the control + 5; London smile pairs >= 99% with mean
difference >= 0.8, identity >= 90%, neutral mean weight <= 0.08.
"""

import argparse
import csv
import json
import re
import statistics
import subprocess
import sys
from pathlib import Path

from figures import ROOT
from figures import record as record_figures

from emoca.datasets.expressions_wild import DEFAULT_ROOT as WILD
from emoca.datasets.helen import DEFAULT_ROOT as HELEN
from emoca.train.regressor import CONTROL_WEIGHTS

OUT = ROOT / "out" / "benchmarks" / "ablation"
CHECKS = Path(__file__).resolve().parents[2] / "shared" / "checks"
ROWS = {
    "fit": ["--method", "fit"],
    "fit+emotion": ["--method", "fit", "--emotion-weight", "1.0"],
    "stage1": ["--method", "regress", "--expression-encoder", "none"],
    "stage2-noemotion": ["--method", "regress", "--expression-encoder", str(CONTROL_WEIGHTS)],
    "stage2": ["--method", "regress"],
    "regress+fit": ["--method", "regress+fit"],
    "regress+identity": ["--method", "regress+identity"],
    "emoca-noemotion": ["--method", "emoca", "--emotion-weight", "0"],
    "emoca": ["--method", "emoca"],
}


def reconstruct(inputs: list[Path], out: Path, options: list[str]) -> None:
    """`emoca reconstruct` into `out`, redoing every photo (`--overwrite`: a row measures today's code, never
    a folder an earlier run left)."""
    command = [str(Path(sys.executable).with_name("emoca")), "reconstruct", *map(str, inputs), "--out", str(out),
               "--overwrite", *options]
    subprocess.run(command, check=False, capture_output=True)


def check(script: str, *args: str, stdin: str | None = None) -> str:
    result = subprocess.run([sys.executable, str(CHECKS / script), *args], capture_output=True, text=True,
                            input=stdin)
    return (result.stdout.strip() or result.stderr.strip()).splitlines()[-1]


def photo_seconds(folder: Path) -> list[float]:
    """Each photo's `timings_ms.total` (reading the photo to its decoded faces), seconds."""
    return [json.loads(p.read_text())["faces"][0]["timings_ms"]["total"] / 1000 for p in folder.rglob("params.json")]


def numbers(text: str) -> list[float]:
    return [float(value) for value in re.findall(r"-?\d+(?:\.\d+)?", text)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", default=",".join(ROWS), help="comma-separated rows to run")
    parser.add_argument("--no-london", action="store_true", help="emotion fidelity only (the slow fit rows)")
    parser.add_argument("--no-helen", action="store_true", help="without HELEN test's 68-point NME of the "
                                                                  "reconstruction (the README's table has it)")
    args = parser.parse_args()
    with open(WILD / "labels.csv", newline="") as handle:
        valid = [WILD / "images" / row["file"] for row in csv.DictReader(handle) if row["split"] == "valid"]
    london = HELEN.parent / "london"
    for row in args.rows.split(","):
        folder, record = OUT / row, {}
        reconstruct(valid, folder / "wild_valid", ROWS[row])
        fidelity = check("eval_fidelity.py", str(folder / "wild_valid"), str(WILD / "labels.csv"))
        print(f"{row}: expressions_wild valid: {re.sub(r' [|] agreement by label.*', '', fidelity)}", flush=True)
        record["wild_valid"] = dict(zip(("agreement", "render_accuracy", "photo_accuracy"),
                                        numbers(fidelity.split("|")[0])[1:4], strict=False)) | {"text": fidelity}
        if not args.no_london:
            for kind in ("neutral", "smiling"):
                reconstruct([london / kind], folder / kind, ROWS[row])
            london_line = check("eval_london.py", str(folder / "neutral"), str(folder / "smiling"))
            record["london"] = dict(zip(("pairs", "smiles", "mean_difference", "identity", "neutral_mean"),
                                        numbers(london_line), strict=False)) | {"text": london_line}
            seconds = photo_seconds(folder / "neutral") + photo_seconds(folder / "smiling")
            record["photo_seconds_median"] = round(statistics.median(seconds), 4)
            print(f"{row}: {london_line}; photo {1000 * record['photo_seconds_median']:.0f} ms median "
                  "(timings_ms.total)", flush=True)
        if not args.no_helen:
            reconstruct([HELEN / "testset"], folder / "helen_test", ROWS[row])
            lines = check_lines(folder / "helen_test")
            helen_line = check("eval_landmarks.py", str(HELEN / "testset"), "2.9", "0.02", stdin=lines)
            values = numbers(helen_line)  # faces, found, 10 (of "<=10%"), mean NME %, failure %
            record["helen_test"] = {"nme": values[3], "failure": values[4], "text": helen_line}
            print(f"{row}: HELEN test: {helen_line}", flush=True)
        record_figures("ablation", {row: record})
    grid = sample_grid([row for row in ROWS if (OUT / row / "wild_valid").is_dir()], valid_by_class())
    if grid is not None:
        record_figures("ablation", {}, {"photo crop, then each row's render.png (expressions_wild valid)": grid})


def valid_by_class() -> dict[str, list[str]]:
    """The expressions_wild valid photos (file stems) of each class, in labels.csv order."""
    chosen = {}
    with open(WILD / "labels.csv", newline="") as handle:
        for entry in csv.DictReader(handle):
            if entry["split"] == "valid":
                chosen.setdefault(entry["emotion"], []).append(Path(entry["file"]).stem)
    return chosen


def sample_grid(rows: list[str], photos: dict[str, list[str]], size: int = 112) -> Path | None:
    """A PNG: one line per class (its first photo with a face found: the crop from overlay.png, then each
    row's render.png), `size` px a tile; None when no row has outputs. Tiles a row lacks stay black."""
    from PIL import Image, ImageDraw

    if not rows:
        return None
    grid = Image.new("RGB", (size * (len(rows) + 1), size * len(photos) + 14))
    draw = ImageDraw.Draw(grid)
    for column, name in enumerate(["photo", *rows]):
        draw.text((column * size + 3, 1), name, fill="white")
    for line, (emotion, stems) in enumerate(photos.items()):
        top = 14 + line * size
        overlay, stem = next(((OUT / row / "wild_valid" / stem / "overlay.png", stem) for stem in stems
                              for row in rows if (OUT / row / "wild_valid" / stem / "overlay.png").exists()),
                             (None, stems[0]))
        if overlay is not None:
            with Image.open(overlay) as image:
                panel = image.crop((0, 0, image.width // 4, image.height))  # overlay.png: four panels, the crop first
                grid.paste(panel.resize((size, size)), (0, top))
        draw.text((3, top + 2), emotion, fill="yellow")
        for column, row in enumerate(rows, 1):
            render = OUT / row / "wild_valid" / stem / "render.png"
            if render.exists():
                with Image.open(render) as image:
                    grid.paste(image.convert("RGB").resize((size, size)), (column * size, top))
    path = OUT / "samples.png"
    temporary = path.with_suffix(".tmp.png")
    grid.save(temporary)
    temporary.replace(path)
    return path


def check_lines(folder: Path) -> str:
    """The reconstruction's 68 points as landmark lines (`params_to_lines.py`)."""
    return subprocess.run([sys.executable, str(CHECKS / "params_to_lines.py"), str(folder)], capture_output=True,
                          text=True).stdout


if __name__ == "__main__":
    main()

"""The report of `make bench`: `out/report/index.html` (one self-contained page: every benchmark's table,
bars where a picture reads faster) from `out/report/figures.json` (`benchmarks/figures.py`), and the
README's results table from the same file, so the two never disagree.

Run: `.venv/bin/python benchmarks/report.py [--readme]` (`make bench` runs it last). `--readme` rewrites the
README's two generated tables (between `<!-- results:start -->` and `<!-- results:end -->`, and
`<!-- figures:start -->` and `<!-- figures:end -->`).
"""

import argparse
import base64
import html
import io
import json
import re
from pathlib import Path

from figures import FIGURES

ROOT = Path(__file__).resolve().parents[1]
REPORT = FIGURES.parent / "index.html"
README = ROOT / "README.md"
ABLATION_ORDER = ("fit", "fit+emotion", "stage2-noemotion", "stage2", "regress+fit", "emoca-noemotion", "emoca")
# bench_regressor's row names where they differ from the method's (bench_fidelity_ferplus's)
METHOD_OF_ROW = {"stage2": "regress", "stage2-noemotion": "regress-noemotion"}


def _flat(row: dict) -> dict[str, object]:
    """A row's figures as column -> value (nested records joined with '.'; raw check lines left out)."""
    out = {}
    for key, value in row.items():
        if isinstance(value, dict):
            out.update({f"{key}.{k}": v for k, v in value.items() if k != "text"})
        elif key != "text":
            out[key] = value
    return out


def table(rows: dict[str, dict]) -> str:
    """An HTML table: one line per row, one column per figure."""
    flat = {name: _flat(row) for name, row in rows.items()}
    columns = list(dict.fromkeys(column for row in flat.values() for column in row))
    head = "".join(f"<th>{html.escape(c)}</th>" for c in ["row", *columns])
    body = "".join("<tr>" + f"<td>{html.escape(name)}</td>" + "".join(
        f"<td>{html.escape(str(row.get(c, '')))}</td>" for c in columns) + "</tr>" for name, row in flat.items())
    return f"<table><tr>{head}</tr>{body}</table>"


# the bar charts under a benchmark's table: benchmark -> (column, title) pairs
BARS = {"ablation": [("wild_valid.agreement", "judge agreement, expressions_wild valid (%)")],
        "fidelity_ferplus": [("agreement", "judge agreement, FER+ test (%)")],
        "geometry_emotion": [("ferplus_test.accuracy", "emotion from geometry, FER+ test accuracy (%)")],
        "speed": [("ratio", "one photo's time over MediaPipe's, same run (x)"),
                  ("video_fps", "the sample video end to end (frames/s)")]}


def png_image(png: bytes, title: str) -> str:
    """An <img> of PNG bytes, inline (a data URI), `title` as its alt text."""
    return f'<img alt="{html.escape(title)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def bars(rows: dict[str, dict], column: str, title: str) -> str:
    """An inline PNG bar chart of one column across rows ('' when no row has it)."""
    values = {name: value for name, row in rows.items() if isinstance(value := _flat(row).get(column), int | float)}
    if not values:
        return ""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 2.8))
    axes.bar(list(values), list(values.values()), color="#4a7bb7")
    axes.set_title(title)
    axes.tick_params(axis="x", labelrotation=20)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90)
    plt.close(figure)
    return png_image(buffer.getvalue(), title)


def embedded(path: str, title: str) -> str:
    """A PNG a benchmark wrote (`path` relative to the repository), inline ('' when it is gone)."""
    file = ROOT / path
    if not file.exists():
        return ""
    return f"<figure>{png_image(file.read_bytes(), title)}<figcaption>{html.escape(title)}</figcaption></figure>"


def write_html(figures: dict) -> None:
    parts = ["<!doctype html><meta charset=utf-8><title>emoca benchmarks</title><style>body{font:14px sans-serif;"
             "margin:2em}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 6px}"
             "</style><h1>emoca benchmarks</h1>"]
    for name, entry in figures.items():
        parts.append(f"<h2>{html.escape(name)}</h2><p>{html.escape(entry['machine'])}, {entry['date']}</p>")
        parts.append(table(entry["rows"]))
        parts.extend(embedded(path, title) for title, path in entry.get("plots", {}).items())
        parts.extend(bars(entry["rows"], column, title) for column, title in BARS.get(name, []))
    REPORT.write_text("".join(parts))


def readme_table(figures: dict) -> list[str]:
    """The README's results table: one line per method of the ablation, FER+ test beside it."""
    ablation = figures.get("ablation", {"rows": {}, "machine": "", "date": ""})
    ferplus = figures.get("fidelity_ferplus", {"rows": {}})["rows"]
    lines = [f"Measured {ablation['date']} on {ablation['machine']} (`make bench`; `benchmarks/report.py` writes "
             "this table and `out/report/index.html` from `out/report/figures.json`).", "",
             "| method | fidelity, wild valid | judge on renders, wild valid | fidelity, FER+ test | HELEN test NME "
             "/ failures | London smiles / mean diff / identity / neutral | photo time (as run) |",
             "|---|---|---|---|---|---|---|"]
    for name in [n for n in ABLATION_ORDER if n in ablation["rows"]]:
        row = _flat(ablation["rows"][name])
        method = METHOD_OF_ROW.get(name, name)
        fer = ferplus.get(method, {})

        def get(key: str, unit: str = "", source: dict = row) -> str:
            value = source.get(key)
            return "–" if value is None else f"{value:g}{unit}"

        seconds = row.get("photo_seconds_median")
        time = "–" if seconds is None else f"{1000 * seconds:.0f} ms"
        label = name if method == name else f"{method} ({name})"
        if "measured" in row:  # a row kept from an earlier run (what it was run with, when)
            label += f" ({row['measured']})"
        lines.append(f"| {label} | {get('wild_valid.agreement', '%')} | {get('wild_valid.render_accuracy', '%')} | "
                     f"{get('agreement', '%', fer)} | {get('helen_test.nme', '%')} / "
                     f"{get('helen_test.failure', '%')} | {get('london.smiles', '%')} / "
                     f"{get('london.mean_difference')} / {get('london.identity', '%')} / "
                     f"{get('london.neutral_mean')} | {time} |")
    return lines


# the README's second table: (figure, benchmark, row, column, unit, target); each benchmark's command below
FIGURE_LINES = [
    ("one photo, `regress`, over MediaPipe's time in the same run", "speed", "regress", "ratio", "x", "<= 4x"),
    ("one photo, `emoca`, over MediaPipe's time in the same run", "speed", "emoca", "ratio", "x", "<= 40x"),
    ("batch 32, network + decoding", "speed", "batch", "faces_per_s", " faces/s", ">= 60"),
    ("sample video end to end, `regress`", "speed", "regress", "video_fps", " frames/s", ">= 10"),
    ("sample video end to end, `emoca`", "speed", "emoca", "video_fps", " frames/s", ">= 5"),
    ("sample video, jitter of `emoca`'s 68 points over the detector's", "video_stability", "sample video, emoca",
     "jitter_ratio", "", "<= 0.5"),
    ("the same, the video's second half (held out from the choice)", "video_stability", "sample video, emoca",
     "jitter_ratio_second_half", "", "<= 0.5"),
    ("SYNTHETIC jawOpen step, `emoca`'s lag", "video_stability", "SYNTHETIC jawOpen step, emoca", "lag_frames",
     " frame(s)", "<= 1"),
    ("emotion from `regress`'s expressions, FER+ test", "geometry_emotion", "regress", "ferplus_test.accuracy", "%",
     ">= 76%"),
    ("the image recogniser on the same crops, FER+ test", "geometry_emotion", "recogniser", "ferplus_test.accuracy",
     "%", ""),
    ("MediaPipe's 52 blendshapes through the same head, FER+ test", "geometry_emotion", "mediapipe",
     "ferplus_test.accuracy", "%", ""),
    ("emotion from `regress`'s expressions, expressions_wild valid", "geometry_emotion", "regress",
     "wild_valid.accuracy", "%", ">= the recogniser"),
    ("the image recogniser on the same crops, expressions_wild valid", "geometry_emotion", "recogniser",
     "wild_valid.accuracy", "%", ""),
    ("our emotion recogniser on FER+ test photos", "emotion_recogniser", "ours", "accuracy", "%", ">= 87%"),
    ("the 68 points (fused), HELEN test NME", "landmarks", "fused", "helen_test_nme", "%", "<= 2.4%"),
    ("render with the photo's texture, HELEN test PSNR", "texture", "helen_test_regress", "psnr_textured_db", " dB",
     "> the albedo render's"),
    ("render with the albedo model's colours, HELEN test PSNR", "texture", "helen_test_regress", "psnr_albedo_db",
     " dB", ""),
    ("building a 1024 x 512 texture, median a face", "texture", "speed", "texture_ms_median", " ms", "<= 50 ms"),
    ("live page in Chromium: answers a second", "live", "live", "answers_per_s", "", ">= 15"),
    ("live page: capture to answer, median", "live", "live", "latency_ms", " ms", "<= 150"),
]
# the script in benchmarks/ that records each benchmark of FIGURE_LINES
SCRIPT = {"speed": "bench_regressor_speed.py", "geometry_emotion": "bench_geometry_emotion.py",
          "emotion_recogniser": "bench_emotion.py", "landmarks": "bench_landmarks.py", "texture": "bench_texture.py",
          "live": "bench_live.py", "video_stability": "bench_video.py"}


def figure_lines(figures: dict) -> list[str]:
    """The README's table of single figures (speed, emotion from geometry, parts): value, target, command, date."""
    lines = ["| figure | measured | target | `benchmarks/` | date |", "|---|---|---|---|---|"]
    for label, benchmark, row, column, unit, target in FIGURE_LINES:
        entry = figures.get(benchmark, {"rows": {}})
        value = _flat(entry["rows"].get(row, {})).get(column)
        shown = "not run" if value is None else f"{value:.4g}{unit}"
        lines.append(f"| {label} | {shown} | {target or '–'} | {SCRIPT[benchmark]} | {entry.get('date', '–')} |")
    return lines


def write_readme(figures: dict) -> None:
    text = README.read_text()
    for marker, lines in (("results", readme_table(figures)), ("figures", figure_lines(figures))):
        pattern = re.compile(rf"(<!-- {marker}:start -->\n).*?(<!-- {marker}:end -->)", re.S)
        if not pattern.search(text):
            raise SystemExit(f"{README}: no <!-- {marker}:start --> ... <!-- {marker}:end --> markers")
        text = pattern.sub(lambda m, lines=lines: m.group(1) + "\n".join(lines) + "\n" + m.group(2), text)
    README.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--readme", action="store_true", help="also rewrite the README's results table")
    args = parser.parse_args()
    if not FIGURES.exists():
        raise SystemExit(f"{FIGURES}: missing; run `make bench` (or the benchmarks) first")
    figures = json.loads(FIGURES.read_text())
    write_html(figures)
    print(f"{REPORT}: {len(figures)} benchmarks")
    if args.readme:
        write_readme(figures)
        print(f"{README}: results table rewritten")


if __name__ == "__main__":
    main()

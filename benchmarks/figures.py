"""Where benchmarks leave their figures for the report: `out/report/figures.json`, one object per benchmark.

`record("bench_name", {"row": {...}})` merges into that benchmark's object (rows run later replace rows of
the same name), with the machine and the date beside them; `benchmarks/report.py` reads the file to write
the HTML report and the README's results table.
"""

import datetime
import json
import os
import platform
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIGURES = ROOT / "out" / "report" / "figures.json"


def machine() -> str:
    """This machine in a few words: processor, cores."""
    name = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{name}, {os.cpu_count()} cores"


def record(benchmark: str, rows: dict, plots: dict[str, Path] | None = None) -> None:
    """Merge `rows` (row name -> figures) into `benchmark`'s entry, stamped with the machine and date;
    `plots` (title -> a PNG the benchmark wrote; kept relative to the repository) go into the report
    beside its table."""
    figures = json.loads(FIGURES.read_text()) if FIGURES.exists() else {}
    entry = figures.setdefault(benchmark, {"rows": {}})
    entry["rows"].update(rows)
    if plots:
        entry.setdefault("plots", {}).update({title: os.path.relpath(path, ROOT) for title, path in plots.items()})
    entry["machine"], entry["date"] = machine(), datetime.date.today().isoformat()
    FIGURES.parent.mkdir(parents=True, exist_ok=True)
    temporary = FIGURES.with_suffix(".tmp")
    temporary.write_text(json.dumps(figures, indent=1))
    temporary.replace(FIGURES)

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

FIGURES = Path(__file__).resolve().parents[1] / "out" / "report" / "figures.json"


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


def record(benchmark: str, rows: dict) -> None:
    """Merge `rows` (row name -> figures) into `benchmark`'s entry, stamped with the machine and date."""
    figures = json.loads(FIGURES.read_text()) if FIGURES.exists() else {}
    entry = figures.setdefault(benchmark, {"rows": {}})
    entry["rows"].update(rows)
    entry["machine"], entry["date"] = machine(), datetime.date.today().isoformat()
    FIGURES.parent.mkdir(parents=True, exist_ok=True)
    temporary = FIGURES.with_suffix(".tmp")
    temporary.write_text(json.dumps(figures, indent=1))
    temporary.replace(FIGURES)

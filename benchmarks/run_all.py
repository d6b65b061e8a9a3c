"""Every benchmark figure of the README, one command: `make bench`. Each benchmark prints its figures and
leaves them in out/report/figures.json; the report (out/report/index.html) and the README's results table
are then written from that file (`report.py`)."""

import runpy
import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))  # the benchmarks import figures.py
for script in sorted(HERE.glob("bench_*.py")):
    print(f"== {script.stem}")
    runpy.run_path(str(script), run_name="__main__")
sys.argv = ["report.py", "--readme"]
runpy.run_path(str(HERE / "report.py"), run_name="__main__")

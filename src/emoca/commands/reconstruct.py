"""`emoca reconstruct`: a 3D face for every face in each photo, and for the person in each video.

The work is the libraries' (`emoca.pipeline` reconstructs, `emoca.output` writes DESIGN.md section 4's
files, `emoca.batch` plans and reports); this module only wires them to the command line.
"""

from pathlib import Path

from emoca.batch.reconstruct_jobs import plan_jobs, report_outcome, run_job
from emoca.batch.report import BatchReport
from emoca.io.atomic import ensure_writable_folder
from emoca.output.writer import OutputWriter
from emoca.pipeline.photo import Reconstructor, ReconstructorConfig


def run_reconstruct(inputs: list[str], out: Path, as_json: bool, overwrite: bool, config: ReconstructorConfig) -> int:
    """Reconstruct every input photo and video into `out`/NAME/ (NAME: the input's path relative to the
    folder given, without suffix; `_2`, `_3`... where another input's outputs hold that name); returns
    the exit status. A full disk stops the batch; other write failures fail that input only."""
    reconstructor = Reconstructor(config)
    ensure_writable_folder(out)
    report = BatchReport(as_json)
    writer = OutputWriter(reconstructor)
    for job in plan_jobs(inputs, out, overwrite, report):
        if not report_outcome(report, run_job(reconstructor, writer, job)):
            break
    return report.finish()

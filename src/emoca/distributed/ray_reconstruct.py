"""`emoca reconstruct --engine ray`: the same job on Ray Data, on this machine or a Ray cluster.

The driver walks the inputs and plans each output folder exactly as the local path does
(`emoca.batch.reconstruct_jobs.plan_jobs`: finished outputs skipped, so a restarted job resumes); Ray Data
sends the jobs to a pool of actors (`ReconstructActor`), each loading the models once and running
`run_job` (the local path's own code, writing the same atomic outputs); the driver reports every
`Outcome` in input order through the same `BatchReport` and exit status. A video stays one task (its
frames depend on the previous frame). The outputs must be on storage every worker can write (one
machine, or a shared file system on a cluster).

Ray is an optional extra (`pip install -e .[ray]`; `make setup` installs it).
"""

import logging
import os
import warnings
from dataclasses import asdict
from pathlib import Path

import pandas as pd

from emoca.batch.reconstruct_jobs import Job, Outcome, plan_jobs, report_outcome, run_job
from emoca.batch.report import BatchReport
from emoca.errors import InputError
from emoca.io.atomic import ensure_writable_folder
from emoca.output.writer import OutputWriter
from emoca.pipeline.photo import Reconstructor, ReconstructorConfig


class ReconstructActor:
    """One Ray actor: the models loaded once, then `run_job` on each batch of jobs (a pandas frame)."""

    def __init__(self, config: ReconstructorConfig, threads: int) -> None:
        import torch

        torch.set_num_threads(threads)
        self.reconstructor = Reconstructor(config)
        self.writer = OutputWriter(self.reconstructor)

    def __call__(self, batch: pd.DataFrame) -> pd.DataFrame:
        outcomes = [run_job(self.reconstructor, self.writer, Job(**row))
                    for row in batch[["path", "folder", "is_video"]].to_dict("records")]
        return pd.DataFrame([asdict(outcome) for outcome in outcomes])


def run_reconstruct_ray(inputs: list[str], out: Path, as_json: bool, overwrite: bool, config: ReconstructorConfig,
                        address: str | None = None, workers: int | None = None, threads: int = 1) -> int:
    """Reconstruct every input on Ray (`address`: an existing cluster's, or None for a local instance
    with this machine's CPUs); `workers` actors (default: the cluster's CPUs / `threads`), each with
    `threads` CPU threads. Returns the exit status, as `run_reconstruct`.

    Raises:
        InputError: Ray is not installed, or the cluster cannot be reached.
    """
    try:
        import ray
    except ImportError:
        raise InputError("--engine ray", "Ray is not installed (pip install -e .[ray])") from None
    ensure_writable_folder(out)
    report = BatchReport(as_json)
    jobs = [asdict(job) for job in plan_jobs(inputs, out, overwrite, report)]
    if not jobs:
        return report.finish()
    started_here = not ray.is_initialized()
    try:
        if started_here:
            options = {"address": address} if address else {"num_cpus": os.cpu_count()}
            ray.init(**options, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError) as error:
        raise InputError("--address", f"cannot start or reach Ray ({error})") from None
    try:
        context = ray.data.DataContext.get_current()
        context.execution_options.preserve_order = True  # outcomes reported in input order
        context.enable_progress_bars = False
        logging.getLogger("ray.data").setLevel(logging.ERROR)  # its start/finish lines; errors still show
        pool = workers or max(1, int(ray.cluster_resources().get("CPU", 1) // threads))
        # max_restarts=0: an actor that dies (out of memory, killed) ends the job instead of being restarted
        # (a rerun resumes where it stopped: finished outputs are skipped), and Ray's core workers do not
        # warn that a restart could miss the constructor's arguments. Ray 2.60 still takes the argument
        # it calls deprecated (requirements-ray.txt pins it).
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            outcomes = ray.data.from_items(jobs).map_batches(
                ReconstructActor, fn_constructor_kwargs={"config": config, "threads": threads}, batch_size=1,
                batch_format="pandas", compute=ray.data.ActorPoolStrategy(size=min(pool, len(jobs))),
                num_cpus=threads, ray_remote_args_fn=lambda: {"max_restarts": 0})
        for row in outcomes.iter_rows():
            outcome = Outcome(**{key: (None if isinstance(value, float) and value != value else value)
                                 for key, value in row.items()})
            outcome.count = int(outcome.count)
            if not report_outcome(report, outcome):
                break
    finally:
        if started_here:
            ray.shutdown()
    return report.finish()

"""A batch of reconstructions as jobs: planned on the driver (output folders, what is already done), run
anywhere (a job's failure becomes its outcome's one line), reported on the driver. The CLI and Ray Data
share it."""

import errno
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from emoca.batch.report import BatchReport, iterate_images, unexpected_reason, unique_name
from emoca.errors import InputError
from emoca.io.images import IMAGE_SUFFIXES, load_image
from emoca.io.video import VIDEO_SUFFIXES
from emoca.output.writer import OutputWriter
from emoca.pipeline.photo import Reconstructor


def reconstruct_photo(reconstructor: Reconstructor, writer: OutputWriter, path: Path, folder: Path) -> int:
    """Reconstruct one photo into `folder`; returns the number of faces.

    Raises:
        InputError: not a readable image, or no face in it.
    """
    started = time.perf_counter()
    image = load_image(path)
    faces = reconstructor.reconstruct(image)
    if not faces:
        raise InputError(path, "no face found")
    writer.photo(path, folder, image, faces, started)
    return len(faces)


def finished(done: Path, path: Path) -> bool | None:
    """Whether `done` (a params.json or params.jsonl) is a complete result of the input `path`: True;
    absent, unreadable or incomplete (to redo): False; a complete result of another input (a photo of the
    same name from an earlier run): None."""
    try:
        text = done.read_text(encoding="utf-8")
        if done.suffix == ".jsonl":
            lines = [json.loads(line) for line in text.splitlines()]
            return bool(lines) and all("frame" in line for line in lines)
        document = json.loads(text)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    if not isinstance(document, dict) or not isinstance(document.get("faces"), list) or "image" not in document:
        return False
    return True if Path(str(document["image"])).resolve() == path.resolve() else None


@dataclass
class Job:
    """One input to reconstruct into `folder` (planned on the driver, run anywhere)."""

    path: str
    folder: str
    is_video: bool


@dataclass
class Outcome:
    """What became of a `Job`: `count` faces (photo) or frames (video) written, or `error` (a bad input's
    reason), `unexpected` (a bug's one line), `disk_full` (stop the batch)."""

    path: str
    folder: str
    is_video: bool
    count: int = 0
    error: str | None = None
    unexpected: str | None = None
    disk_full: bool = False


def plan_jobs(inputs: list[str], out: Path, overwrite: bool, report: BatchReport) -> Iterator[Job]:
    """The inputs to do, each with its output folder (NAME, or NAME_2... where another input's outputs
    hold NAME); finished ones are reported as skipped unless `overwrite`."""
    used: set[str] = set()
    for item in iterate_images(inputs, report, IMAGE_SUFFIXES | VIDEO_SUFFIXES):
        path = item.path
        is_video = path.suffix.lower() in VIDEO_SUFFIXES
        while True:
            folder = out / unique_name(item.name, used)
            done = folder / ("params.jsonl" if is_video else "params.json")
            state = finished(done, path)
            if state is not None:  # None: another input's outputs; never overwritten, the next name is tried
                break
        if state and not overwrite:
            report.skipped(path, f"{done} exists (use --overwrite)", folder)
            continue
        yield Job(str(path), str(folder), is_video)


def run_job(reconstructor: Reconstructor, writer: OutputWriter, job: Job) -> Outcome:
    """Reconstruct one input; every failure becomes the `Outcome`'s one line (nothing raises)."""
    path, folder = Path(job.path), Path(job.folder)
    outcome = Outcome(job.path, job.folder, job.is_video)
    try:
        for stale in folder.glob(".*.tmp*"):  # temporary files of a run that was killed mid-write
            stale.unlink(missing_ok=True)
        outcome.count = (writer.video(path, folder) if job.is_video
                         else reconstruct_photo(reconstructor, writer, path, folder))
    except InputError as error:
        outcome.error = error.reason
    except OSError as error:
        outcome.error = f"cannot write its outputs in {folder} ({error.strerror or error})"
        outcome.disk_full = error.errno == errno.ENOSPC
    except Exception as error:  # noqa: BLE001 - a bug must not end the batch nor show a traceback
        outcome.unexpected = f"{type(error).__name__}: {error}"
    return outcome


def report_outcome(report: BatchReport, outcome: Outcome) -> bool:
    """Report one `Outcome`; False when the batch must stop (a full disk)."""
    path = Path(outcome.path)
    if outcome.error is not None:
        report.error(InputError(path, outcome.error))
    elif outcome.unexpected is not None:
        report.error(InputError(path, unexpected_reason(outcome.unexpected)))
    else:
        report.succeeded()
        if report.as_json:
            report.emit({"image": outcome.path, "out": outcome.folder,
                         "frames" if outcome.is_video else "faces": outcome.count})
    return not outcome.disk_full

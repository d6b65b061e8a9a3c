"""What every batch subcommand shares: input expansion, a progress bar, one-line error reports."""

import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from tqdm import tqdm

from emoca.errors import InputError
from emoca.io.images import IMAGE_SUFFIXES, InputFile, expand_inputs


def unexpected_reason(error: Exception | str) -> str:
    """The one line of a failure no check foresaw (`error`: the exception, or its "Type: message")."""
    what = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    return f"failed unexpectedly ({what}); please report this"


class BatchReport:
    """Counts failures and prints them: one line on stderr each, and with `as_json` also a JSON line
    `{"image": ..., "error": ...}` on stdout so machine readers see every input."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json
        self.failed = self.skips = self.done = 0
        self.started = time.perf_counter()

    def skipped(self, path: Path, reason: str, out: Path) -> None:
        """An input left alone (its outputs exist): one line on stderr; with `as_json` also a JSON line."""
        self.skips += 1
        tqdm.write(f"emoca: skipped {path}: {reason}", file=sys.stderr)
        if self.as_json:
            self.emit({"image": str(path), "out": str(out), "skipped": reason})

    def error(self, error: InputError) -> None:
        self.failed += 1
        tqdm.write(f"emoca: error: {error}", file=sys.stderr)
        if self.as_json:
            self.emit({"image": error.path, "error": error.reason})

    def unexpected(self, path: Path, error: Exception) -> None:
        """An input that failed in a way no check foresaw (a bug): one line, and the batch goes on."""
        self.error(InputError(path, unexpected_reason(error)))

    def emit(self, record: dict) -> None:
        print(json.dumps(record), flush=True)

    def succeeded(self) -> None:
        """Count one input done."""
        self.done += 1

    def finish(self) -> int:
        """Print the run's summary line on stderr (done, skipped, failed, time); the exit status: 0 when
        every input succeeded, 1 when any failed."""
        tqdm.write(f"emoca: {self.done} done, {self.skips} skipped, {self.failed} failed in "
                   f"{time.perf_counter() - self.started:.1f} s", file=sys.stderr)
        return 1 if self.failed else 0


def iterate_images(inputs: list[str], report: BatchReport, suffixes: frozenset[str] = IMAGE_SUFFIXES
                   ) -> Iterator[InputFile]:
    """The inputs of `inputs` (files and folders, `expand_inputs`), with a progress bar when there is more
    than one; what cannot be an input (files without one of `suffixes` in folders, broken links, empty
    folders) is reported and skipped."""
    items = list(expand_inputs(inputs, suffixes))
    for item in tqdm(items, desc="images", unit="img", disable=len(items) < 2, file=sys.stderr):
        if isinstance(item, InputError):
            report.error(item)
        else:
            yield item


def unique_name(stem: str, used: set[str]) -> str:
    """`stem`, or `stem_2`, `stem_3`... so that outputs of same-named inputs (the same file name given
    twice, from two folders) do not collide."""
    name, k = stem, 1
    while name in used:
        k += 1
        name = f"{stem}_{k}"
    used.add(name)
    return name

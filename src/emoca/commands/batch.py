"""What every batch subcommand shares: input expansion, a progress bar, one-line error reports."""

import json
import sys
from collections.abc import Iterator
from pathlib import Path

from tqdm import tqdm

from emoca.errors import InputError
from emoca.io.images import IMAGE_SUFFIXES, expand_inputs


class BatchReport:
    """Counts failures and prints them: one line on stderr each, and with `as_json` also a JSON line
    `{"image": ..., "error": ...}` on stdout so machine readers see every input."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json
        self.failed = 0

    def error(self, error: InputError) -> None:
        self.failed += 1
        tqdm.write(f"emoca: error: {error}", file=sys.stderr)
        if self.as_json:
            self.emit({"image": error.path, "error": error.reason})

    def emit(self, record: dict) -> None:
        print(json.dumps(record), flush=True)

    @property
    def exit_status(self) -> int:
        """0 when every input succeeded, 1 when any failed."""
        return 1 if self.failed else 0


def iterate_images(inputs: list[str], report: BatchReport, suffixes: frozenset[str] = IMAGE_SUFFIXES
                   ) -> Iterator[Path]:
    """Input paths of `inputs` (files and folders), with a progress bar when there is more than one;
    files in folders without one of `suffixes` are reported and skipped."""
    items = list(expand_inputs(inputs, suffixes))
    for item in tqdm(items, desc="images", unit="img", disable=len(items) < 2, file=sys.stderr):
        if isinstance(item, InputError):
            report.error(item)
        else:
            yield item


def unique_name(stem: str, used: set[str]) -> str:
    """`stem`, or `stem_2`, `stem_3`... so that outputs of same-named inputs do not collide."""
    name, k = stem, 1
    while name in used:
        k += 1
        name = f"{stem}_{k}"
    used.add(name)
    return name

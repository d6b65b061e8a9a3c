"""The one exception type users see: a bad input, reported as a single line naming the file and reason."""

from pathlib import Path


class InputError(Exception):
    """A file or value the user supplied cannot be used.

    `str(error)` is one line: ``"<path>: <reason>"`` so a batch can report it and go on (control
    characters in the path, e.g. a newline in a file name, are shown escaped; `.path` keeps the name).
    """

    def __init__(self, path: str | Path | None, reason: str) -> None:
        self.path = None if path is None else str(path)
        self.reason = " ".join(str(reason).split())  # one line, whatever the cause printed
        shown = None if self.path is None else "".join(c if c.isprintable() else repr(c)[1:-1] for c in self.path)
        super().__init__(self.reason if shown is None else f"{shown}: {self.reason}")

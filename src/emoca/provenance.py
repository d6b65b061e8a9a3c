"""What produced an output: the configuration and the learned files it used, named with a short hash,
so two outputs can be compared (`params.json`'s `provenance`)."""

import hashlib
from functools import cache
from pathlib import Path

HASH_CHARACTERS = 12


@cache
def file_hash(path: Path) -> str:
    """The first `HASH_CHARACTERS` hex digits of the file's SHA-256 (read once per process and path)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:HASH_CHARACTERS]


def file_identities(paths: list[Path]) -> dict[str, str]:
    """{file name: short hash} of the files that exist among `paths`."""
    return {Path(path).name: file_hash(Path(path).resolve()) for path in paths if Path(path).is_file()}

"""`emoca.batch` (what every batch command shares) and the provenance of outputs: unique output names,
the one-line reports and the exit status, and the short file hashes params.json names learned files by."""

import hashlib
import json

from emoca.batch.report import BatchReport, unique_name
from emoca.errors import InputError
from emoca.methods import default_method
from emoca.provenance import HASH_CHARACTERS, file_hash, file_identities


def test_unique_name_numbers_repeats_from_two():
    used: set[str] = set()
    assert [unique_name(stem, used) for stem in ("a", "a", "b", "a", "a_2")] == ["a", "a_2", "b", "a_3", "a_2_2"]
    assert used == {"a", "a_2", "a_3", "b", "a_2_2"}


def test_batch_report_counts_prints_one_line_each_and_sets_the_exit_status(capsys, tmp_path):
    report = BatchReport(as_json=True)
    report.succeeded()
    report.skipped(tmp_path / "old.jpg", "outputs exist", tmp_path / "out")
    assert report.finish() == 0  # skips are not failures
    report.error(InputError(tmp_path / "bad.jpg", "not an image"))
    report.unexpected(tmp_path / "odd.jpg", RuntimeError("boom"))
    assert report.finish() == 1
    out, err = capsys.readouterr()
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line.get("error") for line in lines] == [None, "not an image",
                                                     "failed unexpectedly (RuntimeError: boom); please report this"]
    assert f"emoca: error: {tmp_path / 'bad.jpg'}: not an image" in err
    assert err.strip().splitlines()[-1].startswith("emoca: 1 done, 1 skipped, 2 failed in ")


def test_file_hash_is_the_sha256_prefix_and_missing_files_are_left_out(tmp_path):
    path = tmp_path / "weights.bin"
    path.write_bytes(b"emoca" * 1000)
    expected = hashlib.sha256(b"emoca" * 1000).hexdigest()[:HASH_CHARACTERS]
    assert file_hash(path) == expected
    assert file_identities([path, tmp_path / "missing.bin"]) == {"weights.bin": expected}


def test_default_method_is_emoca_for_ict_and_the_fitter_for_flame():
    assert default_method("ict") == "emoca"
    assert default_method("flame") == "fit"

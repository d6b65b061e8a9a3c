"""Beyond one process: DDP under torchrun's environment gives one process's update; Ray Data writes what
the local path writes, reports the same, and a killed run resumes."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from emoca.datasets.helen import DEFAULT_ROOT as HELEN
from emoca.distributed.torchrun import Ranks, agree, join, leave, shard, wrap

LONDON = HELEN.parent / "london"


def _tiny_problem() -> tuple[torch.nn.Module, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.Tanh(), torch.nn.Linear(5, 2))
    inputs, targets = torch.randn(8, 6), torch.randn(8, 2)
    return model, inputs, targets


def _one_step(ranks: Ranks) -> list[torch.Tensor]:
    """One SGD step of the tiny model on this rank's share of the 8-sample batch; the parameters after it."""
    model, inputs, targets = _tiny_problem()
    forward = wrap(model, ranks)
    rows = shard(np.arange(8), ranks)
    optimiser = torch.optim.SGD(model.parameters(), lr=0.5)
    loss = ((forward(inputs[rows]) - targets[rows]) ** 2).mean()
    loss.backward()
    optimiser.step()
    if ranks.world > 1:  # every rank must say yes
        assert agree(True, ranks) and not agree(ranks.rank == 0, ranks)
    return [p.detach().clone() for p in model.parameters()]


def _rank_main(rank: int, world: int, init_file: str, out: str) -> None:
    os.environ.update({"RANK": str(rank), "WORLD_SIZE": str(world), "LOCAL_RANK": str(rank),
                       "MASTER_ADDR": "127.0.0.1"})
    torch.distributed.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    ranks = join()  # finds the group started, as under torchrun
    parameters = _one_step(ranks)
    if ranks.writes:
        torch.save(parameters, out)
    leave(ranks)


def test_two_processes_with_half_batches_take_one_process_step(tmp_path):
    single = _one_step(Ranks())
    out = tmp_path / "ddp.pt"
    torch.multiprocessing.spawn(_rank_main, args=(2, str(tmp_path / "init"), str(out)), nprocs=2, join=True)
    for expected, found in zip(single, torch.load(out), strict=True):
        torch.testing.assert_close(found, expected, atol=1e-6, rtol=1e-5)
    with pytest.raises(ValueError, match="split equally"):
        shard(np.arange(7), Ranks(0, 2))


def _photos(folder: Path) -> Path:
    """Eight London photos (shrunk) and one text file named .jpg."""
    folder.mkdir()
    for name in (f"{mood}/00{person}" for person in range(1, 5) for mood in ("neutral", "smiling")):
        Image.open(LONDON / f"{name}.jpg").resize((320, 320)).save(folder / f"{name.replace('/', '_')}.jpg")
    (folder / "zz_notes.jpg").write_text("not a photo")
    return folder


def _without_timings(path: Path) -> dict:
    document = json.loads(path.read_text())
    for face in document["faces"]:
        face.pop("timings_ms")
    return document


def _emoca(*args: object) -> list[str]:
    return [sys.executable, "-m", "emoca.cli", *map(str, args)]


def test_ray_writes_what_the_local_path_writes_and_resumes(tmp_path):
    photos = _photos(tmp_path / "in")
    common = ("--method", "regress", "--threads", "1", "--json")
    local = subprocess.run(_emoca("reconstruct", photos, "--out", tmp_path / "local", *common),
                           capture_output=True, text=True)
    assert local.returncode == 1  # the text file
    # Ray, killed as soon as its first photo is written, then run again to the end.
    ray_out = tmp_path / "ray"
    command = _emoca("reconstruct", photos, "--out", ray_out, "--engine", "ray", "--workers", "2", *common)
    first = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 300
    while not list(ray_out.glob("*/params.json")) and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    done_before, settled = set(), 0
    while settled < 6:  # Ray's workers may finish the photo in hand after the driver is gone
        time.sleep(0.5)
        now = {p.parent.name for p in ray_out.glob("*/params.json")}
        settled = settled + 1 if now == done_before else 0
        done_before = now
    second = subprocess.run(command, capture_output=True, text=True)
    assert second.returncode == local.returncode == 1
    local_lines = [json.loads(line) for line in local.stdout.splitlines() if "summary" not in line]
    ray_lines = [json.loads(line) for line in second.stdout.splitlines()]
    assert [line for line in ray_lines if "error" in line] == [line for line in local_lines if "error" in line]
    assert {Path(line["out"]).name for line in ray_lines if "skipped" in line} == done_before
    assert len(done_before) < 8  # the kill came before the end
    names = sorted(p.parent.name for p in (tmp_path / "local").glob("*/params.json"))
    assert names == sorted(p.parent.name for p in ray_out.glob("*/params.json")) and len(names) == 8
    for name in names:
        assert _without_timings(ray_out / name / "params.json") == _without_timings(tmp_path / "local" / name /
                                                                                    "params.json")
        assert (ray_out / name / "mesh.obj").read_bytes() == (tmp_path / "local" / name / "mesh.obj").read_bytes()
    assert "error: " in second.stderr and "zz_notes.jpg" in second.stderr and "Traceback" not in second.stderr

"""Training under `torchrun`: the few pieces a trainer needs to run as N processes.

    torchrun --nproc_per_node 2 -m emoca.train.regressor --stage expression

`torchrun` sets RANK, WORLD_SIZE and LOCAL_RANK; `join()` then starts the process group (gloo on the
CPU, nccl on CUDA) and returns this process's `Ranks`. Every rank draws the same global batch from the
same seeded generator and keeps its own slice (`shard`); `DistributedDataParallel` (`wrap`) averages
the gradients, so N ranks with B/N faces each take the step one process takes with B faces. Only rank 0
writes checkpoints, weights and logs; every rank resumes from the same checkpoint. Without torchrun
(no WORLD_SIZE, or 1) all of this is a no-op: one process, as before.
"""

import gc
import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class Ranks:
    """rank: this process (0 writes); world: how many; device: where this rank computes."""

    rank: int = 0
    world: int = 1
    device: str = "cpu"

    @property
    def writes(self) -> bool:
        """Whether this rank writes files (rank 0 only)."""
        return self.rank == 0


def join(cuda: bool = False) -> Ranks:
    """This process's ranks under torchrun (the process group started), or a single process. `cuda`: the
    trainer computes on CUDA (one device per local rank, nccl); else the CPU (gloo)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Ranks()
    cuda = cuda and torch.cuda.is_available()
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if cuda:
        torch.cuda.set_device(local)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if cuda else "gloo")
    return Ranks(dist.get_rank(), dist.get_world_size(), f"cuda:{local}" if cuda else "cpu")


def leave(ranks: Ranks) -> None:
    """End the process group (after the last collective call), every rank together and after the
    wrappers that hold it are gone: a gloo rank that tears its group down while another still talks to
    it, or whose DistributedDataParallel (kept alive by reference cycles) outlives the group, can abort at
    exit ("terminate called without an active exception"; the two-process test, 2 of 8 runs)."""
    if ranks.world > 1 and dist.is_initialized():
        gc.collect()
        dist.barrier()
        dist.destroy_process_group()


def shard(rows: np.ndarray, ranks: Ranks) -> np.ndarray:
    """This rank's contiguous slice of a global batch (the batch size must divide by the world size).

    Raises:
        ValueError: a batch the ranks cannot share equally (their mean gradient would be biased)."""
    if len(rows) % ranks.world:
        raise ValueError(f"a batch of {len(rows)} cannot be split equally over {ranks.world} processes")
    size = len(rows) // ranks.world
    return rows[ranks.rank * size:(ranks.rank + 1) * size]


def wrap(module: nn.Module, ranks: Ranks) -> nn.Module:
    """`module` in `DistributedDataParallel` when there are several ranks (its trainable parameters'
    gradients averaged over the ranks at each backward), else itself."""
    if ranks.world <= 1:
        return module
    return nn.parallel.DistributedDataParallel(module, device_ids=None if ranks.device == "cpu" else [ranks.device])


def agree(flag: bool, ranks: Ranks) -> bool:
    """True only if every rank says True (e.g. "go on training": ranks whose clocks disagree about a time
    limit must stop at the same step, or the others would wait for them forever)."""
    if ranks.world <= 1:
        return flag
    value = torch.tensor([1 if flag else 0], device=ranks.device)
    dist.all_reduce(value, op=dist.ReduceOp.MIN)
    return bool(value.item())

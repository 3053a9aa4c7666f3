"""torchrun: join the process group it describes, and ask which process this is.

    info = setup_distributed()      # rank, world size and device of this process (rank 0 of 1 without torchrun)
    ...                             # `fit`, `evaluate` and the loaders see the group and share the work
    cleanup_distributed()

Every part of the library that behaves differently under torch.distributed asks `initialized()` or
`rank_and_world_size()`.
"""

from __future__ import annotations

import os
from typing import NamedTuple

import torch
import torch.distributed as dist

from .runsize import pick_device

__all__ = ["DistInfo", "initialized", "rank_and_world_size", "setup_distributed", "cleanup_distributed"]


class DistInfo(NamedTuple):
    rank: int
    world_size: int
    local_rank: int
    device: torch.device


def initialized() -> bool:
    """Is this process one of a torch.distributed process group?"""
    return dist.is_available() and dist.is_initialized()


def rank_and_world_size() -> tuple[int, int]:
    """(this process's rank, the number of processes): (0, 1) outside a process group."""
    return (dist.get_rank(), dist.get_world_size()) if initialized() else (0, 1)


def setup_distributed(backend: str | None = None) -> DistInfo:
    """Join the process group that torchrun describes (RANK, WORLD_SIZE, LOCAL_RANK): nccl on CUDA (one GPU
    per process, cuda:LOCAL_RANK), gloo on CPU. Without torchrun: rank 0 of 1, nothing initialised."""
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        return DistInfo(0, 1, 0, pick_device())
    rank, world, local = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), int(os.environ.get("LOCAL_RANK", 0))
    if torch.cuda.is_available():
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
    else:
        device = torch.device("cpu")
    if not initialized():
        dist.init_process_group(backend or ("nccl" if device.type == "cuda" else "gloo"), rank=rank,
                                world_size=world)
    return DistInfo(rank, world, local, device)


def cleanup_distributed() -> None:
    """Leave the process group (call at the end of a torchrun script)."""
    if initialized():
        dist.destroy_process_group()

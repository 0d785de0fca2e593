"""What both trainers share about processes: rank and world under torchrun (DDP), and provenance."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import torch


class Distributed:
    """Rank/world of this process; starts gloo (CPU) or nccl (GPU) under torchrun."""

    def __init__(self) -> None:
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        if self.world > 1 and not torch.distributed.is_initialized():
            backend = "nccl" if torch.cuda.is_available() else "gloo"
            torch.distributed.init_process_group(backend)
            self.rank = torch.distributed.get_rank()

    @property
    def main(self) -> bool:
        return self.rank == 0

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        """The model itself in one process; a DistributedDataParallel around it under torchrun."""
        if self.world <= 1:
            return model
        return torch.nn.parallel.DistributedDataParallel(model)

    def agree(self, flag: bool) -> bool:
        """Rank 0's decision, shared with every process."""
        if self.world == 1:
            return flag
        value = torch.tensor([1 if flag else 0])
        torch.distributed.broadcast(value, src=0)
        return bool(value.item())

    def close(self, together: bool = True) -> None:
        """Leave the process group; `together` waits for every rank first (not after an error,
        when a peer may never arrive)."""
        if self.world > 1 and torch.distributed.is_initialized():
            # A rank that tears down while rank 0 is still saving was seen aborted by gloo.
            if together:
                torch.distributed.barrier()
            torch.distributed.destroy_process_group()

    def __repr__(self) -> str:
        return f"Distributed(rank={self.rank}, world={self.world})"


def git_commit() -> str | None:
    """The commit the training code was run from (for the model card), or None outside git."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], check=False, capture_output=True,
                             text=True, timeout=5, cwd=Path(__file__).resolve().parent)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None

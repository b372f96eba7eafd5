"""Writes a TorchScript archive whose loading runs code: __setstate__ of the
module creates the file named by argv[2] (torch.from_file with shared=True
opens it with O_CREAT). The checkpoint tests wrap it the way nrnm-native
0.1 wrapped its LibTorch archive and check that loading never runs it.

usage: python3 code-running-archive.py OUT.pt MARKER
Prints "ran" when torch.jit.load of OUT.pt does create MARKER (then removed),
so the test knows the fixture really runs code under the TorchScript loader.
"""
import os
import sys

import torch
from typing import Tuple


class Payload(torch.nn.Module):
    def __init__(self, marker: str):
        super().__init__()
        self.marker = marker

    def forward(self, x):
        return x

    @torch.jit.export
    def __getstate__(self) -> Tuple[str, bool]:
        return (self.marker, self.training)

    @torch.jit.export
    def __setstate__(self, state: Tuple[str, bool]) -> None:
        self.marker = state[0]
        # The result is used, or TorchScript drops the call as dead code.
        self.training = state[1] and torch.from_file(state[0], True, 8).numel() >= 0


out, marker = sys.argv[1], sys.argv[2]
torch.jit.save(torch.jit.script(Payload(marker)), out)
torch.jit.load(out)
if os.path.exists(marker):
    os.remove(marker)
    print("ran")

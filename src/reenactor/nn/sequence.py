"""A small recurrent sequence module (GRU or LSTM) for pose-sequence models (e.g. PSGAN's pose generator):
an input projection, a stacked GRU/LSTM and an output projection, usable over whole sequences or streamed
one step at a time with carried state.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

State = torch.Tensor | tuple[torch.Tensor, torch.Tensor] | None


class SequenceModule(nn.Module):
    """x (B, T, input_dim) -> y (B, T, output_dim), plus the recurrent state.

    cell: ``"gru"`` or ``"lstm"``; hidden_dim, num_layers: recurrent size; dropout between layers (training
    only). ``residual=True`` adds the input to the output (requires input_dim == output_dim), so the module
    learns a correction to e.g. a pose sequence.
    """

    def __init__(
        self,
        input_dim: int,
        hidden_dim: int = 128,
        output_dim: int | None = None,
        cell: Literal["gru", "lstm"] = "gru",
        num_layers: int = 1,
        dropout: float = 0.0,
        residual: bool = False,
    ):
        super().__init__()
        output_dim = input_dim if output_dim is None else output_dim
        if residual and output_dim != input_dim:
            raise ValueError("residual SequenceModule needs output_dim == input_dim")
        if cell not in ("gru", "lstm"):
            raise ValueError(f"cell must be gru or lstm, got {cell!r}")
        self.cell = cell
        self.residual = residual
        self.inp = nn.Linear(input_dim, hidden_dim)
        rnn = nn.GRU if cell == "gru" else nn.LSTM
        self.rnn = rnn(
            hidden_dim,
            hidden_dim,
            num_layers=num_layers,
            batch_first=True,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        self.out = nn.Linear(hidden_dim, output_dim)

    def forward(self, x: torch.Tensor, state: State = None) -> tuple[torch.Tensor, State]:
        """x (B, T, input_dim), state from a previous call (or None) -> (y (B, T, output_dim), state)."""
        h, state = self.rnn(torch.relu(self.inp(x)), state)
        y = self.out(h)
        return (y + x if self.residual else y), state

    def step(self, x: torch.Tensor, state: State = None) -> tuple[torch.Tensor, State]:
        """One time step: x (B, input_dim) -> (y (B, output_dim), state)."""
        y, state = self.forward(x[:, None], state)
        return y[:, 0], state

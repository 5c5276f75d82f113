"""An exponential moving average of a model's weights, kept beside training (Polyak averaging).

At a small learning rate the weights still wander from batch to batch: the colour of one
rate level moves by a few tenths of a grey level between checkpoints a few hundred steps
apart. The average over the last ~1/(1 - decay) steps smooths that walk; it is what
``python -m training.checkpoint averaged RUN/last.pt OUT.pt`` hands to export and calibration.

Floating-point tensors are averaged; integer buffers are copied from the model.
"""

from __future__ import annotations

import copy

import torch


class WeightAverage:
    """``avg = decay * avg + (1 - decay) * weights`` after every optimizer step."""

    def __init__(self, model: torch.nn.Module, decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"an average's decay must lie in (0, 1), not {decay}")
        self.decay = decay
        self.weights = {k: v.detach().float().clone() for k, v in model.state_dict().items()}

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        for name, value in model.state_dict().items():
            held = self.weights[name]
            if value.is_floating_point():
                held.mul_(self.decay).add_(value.detach().float(), alpha=1.0 - self.decay)
            else:
                held.copy_(value)

    def state_dict(self) -> dict:
        return {"decay": self.decay, "weights": self.weights}

    def load_state_dict(self, state: dict) -> None:
        """Take a saved average; a weight the model has and the average lacks starts from the model's."""
        for name, value in state["weights"].items():
            if name in self.weights and self.weights[name].shape == value.shape:
                self.weights[name] = value.float().clone()

    def averaged_model(self, model: torch.nn.Module) -> torch.nn.Module:
        """A copy of ``model`` holding the averaged weights (for validation)."""
        twin = copy.deepcopy(model)
        twin.load_state_dict({k: v.to(dtype=model.state_dict()[k].dtype) for k, v in self.weights.items()})
        return twin

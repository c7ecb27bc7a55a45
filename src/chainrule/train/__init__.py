"""Training: the loop that composes model, loss, optimizer and data (layer 3).

trainer        Trainer: epochs, validation, checkpoints, data-parallel runs
divergence     DivergenceError: a non-finite loss or gradient norm stops the run
history        History: the per-epoch records and per-step columns of a run
callbacks      Callback (the hooks a run calls) and EarlyStopping
metrics        the running metrics a Trainer reports (accuracy, r2, rmse, mae, callables)
progress       what a run prints: nothing, one line per epoch, or a live progress bar
data_parallel  data-parallel training over MPI ranks (sharding, the gradient all-reduce)
"""
from .callbacks import Callback, EarlyStopping
from .divergence import DivergenceError
from .history import History
from .trainer import Trainer

__all__ = ["Trainer", "History", "Callback", "EarlyStopping", "DivergenceError"]

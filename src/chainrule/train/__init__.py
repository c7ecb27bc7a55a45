"""Training: the loop that composes model, loss, optimizer and data (layer 3).

trainer        Trainer, History, Callback, EarlyStopping, DivergenceError
metrics        the running metrics a Trainer reports (accuracy, r2, rmse, mae, callables)
progress       what a run prints: nothing, one line per epoch, or a live progress bar
data_parallel  data-parallel training over MPI ranks (sharding, the gradient all-reduce)
"""
from .trainer import Callback, DivergenceError, EarlyStopping, History, Trainer

__all__ = ["Trainer", "History", "Callback", "EarlyStopping", "DivergenceError"]

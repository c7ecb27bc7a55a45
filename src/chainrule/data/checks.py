"""Checks shared by the datasets, loaders, splits and the scaler: no NaN or inf values,
and a valid seed with the generator it gives."""
from __future__ import annotations

from ..engine import backend
from ..engine.backend import host as np


def check_finite(array, where: str, columns=None) -> None:
    """Raise ValueError naming the NaN/inf count (and the columns of a 2-D array)."""
    if array.dtype.kind != "f":
        return
    host = backend.to_host(array)
    if np.isfinite(host).all():
        return
    nan = np.isnan(host)
    inf = np.isinf(host)
    message = f"{where} holds {int(nan.sum())} NaN and {int(inf.sum())} inf values"
    if host.ndim == 2:
        bad = np.flatnonzero((nan | inf).any(axis=0))
        names = [columns[j] if columns is not None else str(j) for j in bad]
        detail = ", ".join(
            f"{name} ({int(nan[:, j].sum())} NaN, {int(inf[:, j].sum())} inf)"
            for name, j in zip(names[:10], bad[:10])
        )
        more = f" and {len(bad) - 10} more" if len(bad) > 10 else ""
        message += f" in column(s) {detail}{more}"
    raise ValueError(message + "; drop or impute them before training")


def check_seed(seed, where: str):
    """``seed`` itself when it is None or a non-negative int; else ValueError naming ``where``."""
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise ValueError(f"{where}: seed must be None or a non-negative int; got {seed!r}")
    return seed


def new_generator(seed: int):
    """A generator of its own (PCG64) for a loader or split given ``seed``, independent of the global one."""
    return np.random.Generator(np.random.PCG64(seed))

"""``--formula``: a model formula instead of ``--target``/``--features``, and its design saved
with the model so ``chainrule predict`` re-applies it.

``chainrule fit DATA --formula "y ~ x1 + C(g) + x1:x2"`` builds the design by
:func:`chainrule.formula.design_matrices` (formulaic; treatment coding, the first level the
reference; stateful transforms such as ``center(x)`` take their statistics from the rows read);
the columns it makes are then the model's features, the left-hand side its target, and
``- 1`` fits without an intercept. For a classifier the target is read as class labels.

The fitted design is kept in ``model.json`` as plain JSON (:func:`spec_to_dict`): the
formula, the design's column names, the levels of each categorical factor and the stateful
transforms' statistics, never pickled objects (a model file must not run code when read).
:func:`spec_from_dict` rebuilds formulaic's ``ModelSpec`` from them, and predict applies it
by :func:`chainrule.formula.apply_design`, checking that the same columns come out.
"""
from __future__ import annotations

import numpy as np

from .errors import CommandError

CLASSIFIERS = ("logit", "mnlogit")


def formula_frame(args, frame):
    """The table a ``--formula`` fit encodes: the design's columns and the target (named
    ``args.target``, set here from the left-hand side), and the design's spec.

    Raises :class:`CommandError` for a formula that cannot be applied (the library's
    :class:`chainrule.formula.FormulaError` message)."""
    import pandas as pd

    from ..formula import FormulaError, design_matrices

    kind = "labels" if args.model in CLASSIFIERS else "numeric"
    try:
        y, X, spec = design_matrices(args.formula, frame, target=kind)
    except FormulaError as error:
        raise CommandError(f"--formula: {error}") from None
    if spec.target in X.columns:
        raise CommandError(f"--formula {args.formula!r}: the target {spec.target!r} is also a design column")
    args.target = spec.target
    table = pd.concat([X.reset_index(drop=True), y.reset_index(drop=True).rename(spec.target)], axis=1)
    return table, spec


def design_for_prediction(saved: dict, frame):
    """The design columns of a saved ``--formula`` model on new data (a DataFrame)."""
    from ..formula import FormulaError, apply_design

    spec = spec_from_dict(saved)
    try:
        X = apply_design(spec, frame)
    except FormulaError as error:
        raise CommandError(f"the model's formula: {error}") from None
    if list(X.columns) != list(spec.columns):
        raise CommandError(f"the model's formula {spec.formula!r} gives the columns {list(X.columns)} on this data; "
                           f"the model was fitted on {list(spec.columns)}")
    return X.reset_index(drop=True)


# --------------------------------------------------------------------------- JSON form

def spec_to_dict(spec) -> dict:
    """A :class:`chainrule.formula.FormulaSpec` as plain JSON values."""
    rhs = spec.rhs_spec
    encoders = {}
    for factor, (kind, state) in rhs.encoder_state.items():
        entry = {"kind": str(getattr(kind, "value", kind))}
        if "categories" in state:
            entry["categories"] = _to_json(list(state["categories"]))
        encoders[str(factor)] = entry
    right = str(rhs.formula) + ("" if spec.intercept else " - 1")  # formulaic writes no "- 1"
    return {"formula": spec.formula, "rhs": right, "intercept": bool(spec.intercept),
            "columns": list(spec.columns), "target": spec.target, "target_kind": spec.target_kind,
            "ensure_full_rank": bool(rhs.ensure_full_rank), "encoders": encoders,
            "transforms": _to_json(dict(rhs.transform_state))}


def spec_from_dict(saved: dict):
    """The :class:`chainrule.formula.FormulaSpec` that :func:`spec_to_dict` wrote."""
    from formulaic.model_spec import ModelSpec

    from ..formula import FormulaSpec

    encoders = {factor: (entry["kind"], {"categories": _from_json(entry["categories"])} if "categories" in entry
                         else {}) for factor, entry in saved["encoders"].items()}
    rhs = ModelSpec(formula=saved["rhs"], ensure_full_rank=saved["ensure_full_rank"], output="pandas",
                    encoder_state=encoders, transform_state=_from_json(saved["transforms"]))
    return FormulaSpec(formula=saved["formula"], intercept=saved["intercept"], columns=tuple(saved["columns"]),
                       target=saved["target"], target_kind=saved["target_kind"], rhs_spec=rhs)


def _to_json(value):
    """Dicts (any keys), lists, tuples, NumPy arrays and scalars as tagged JSON values."""
    if isinstance(value, dict):
        return {"dict": [[_to_json(key), _to_json(item)] for key, item in value.items()]}
    if isinstance(value, tuple):
        return {"tuple": [_to_json(item) for item in value]}
    if isinstance(value, list):
        return [_to_json(item) for item in value]
    if isinstance(value, np.ndarray):
        return {"array": value.tolist(), "dtype": str(value.dtype)}
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise CommandError(f"--formula: a transform's state of type {type(value).__name__} cannot be saved with the "
                       f"model; write the formula without that transform")


def _from_json(value):
    if isinstance(value, list):
        return [_from_json(item) for item in value]
    if isinstance(value, dict):
        if "dict" in value:
            return {_hashable(_from_json(key)): _from_json(item) for key, item in value["dict"]}
        if "tuple" in value:
            return tuple(_from_json(item) for item in value["tuple"])
        if "array" in value:
            return np.asarray(value["array"], dtype=value["dtype"])
    return value


def _hashable(key):
    return tuple(key) if isinstance(key, list) else key

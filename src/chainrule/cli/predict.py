"""``chainrule predict``: apply a saved model to new rows.

The saved encoder re-applies exactly the fitted encodings, imputation and scaling; data
whose columns do not match the model's are rejected with the missing or extra columns
named. The output CSV has one row per input row used: ``row`` (its 0-based position in
DATA), ``prediction`` (the predicted value, or the predicted class label), and for
classifiers one ``probability[<label>]`` column per class.
"""
from __future__ import annotations

import numpy as np

from .arguments import HelpFormatter, add_debug_argument
from .errors import CommandError
from .output import console


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "predict",
        help="predict with a model saved by chainrule fit",
        description="Apply the model saved in MODEL_DIR (by chainrule fit --out MODEL_DIR) to "
                    "DATA, re-applying its encodings and scaling, and write the predictions "
                    "as CSV.",
        epilog="example: chainrule predict chainrule-output new_rows.csv --out predictions.csv",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("model_dir", metavar="MODEL_DIR", help="a directory written by chainrule fit")
    parser.add_argument("data", metavar="DATA",
                        help="a .csv/.parquet file (or bundled dataset name) with the model's feature columns")
    parser.add_argument("--out", metavar="FILE", default="predictions.csv",
                        help="the CSV to write (default: %(default)s)")
    parser.add_argument("--dropna", action="store_true",
                        help="skip rows with missing feature values (their positions are "
                             "absent from the output's row column)")
    add_debug_argument(parser)
    parser.set_defaults(func=run)


def run(args) -> int:
    from ..datasets import read_table
    from .artifacts import load_model

    if not str(args.out).lower().endswith(".csv"):
        raise CommandError(f"--out must name a .csv file; got {args.out!r}")
    predictor, encoder, spec = load_model(args.model_dir)
    from .panel_iv import refuse_prediction  # issue 22: panel/IV (an --absorb fit has no fixed-effect estimates)

    refuse_prediction(spec, args.model_dir)
    frame = read_table(args.data)
    if spec.get("formula"):  # a --formula model: its design first, then the saved encoder
        from .formula_spec import design_for_prediction

        frame = design_for_prediction(spec["formula"], frame)
    if spec.get("text"):  # --text inputs: the saved tokenizer re-applied (cli/text_inputs.py)
        from .text_inputs import text_design

        X, rows = text_design(args.model_dir, spec, encoder, frame, dropna=args.dropna)
    else:
        if args.dropna:
            encoder.dropna = True
        X, _ = encoder.transform(frame, require_target=False)
        rows = _kept_rows(encoder, len(frame))
    predictions = prediction_frame(predictor, X, rows)
    predictions.to_csv(args.out, index=False)
    skipped = len(frame) - len(rows)
    note = f" ({skipped} rows with missing values skipped)" if skipped else ""
    console().print(f"{spec['model']} model from {args.model_dir}: {len(rows)} predictions "
                    f"written to {args.out}{note}")
    return 0


def _kept_rows(encoder, n: int) -> np.ndarray:
    kept = getattr(encoder, "last_kept_rows_", None)
    if kept is None:
        return np.arange(n)
    kept = np.asarray(kept)
    return np.flatnonzero(kept) if kept.dtype == bool else kept


def prediction_frame(predictor, X: np.ndarray, rows: np.ndarray):
    """The predictions as a DataFrame: row, prediction, and per-class probabilities."""
    import pandas as pd

    scores = predictor.predict_scores(X)
    columns = {"row": np.asarray(rows, dtype=np.int64)}
    if predictor.task == "regression":
        columns["prediction"] = scores
        return pd.DataFrame(columns)
    labels = list(predictor.classes)
    probabilities = np.column_stack([1.0 - scores, scores]) if predictor.task == "binary" else scores
    columns["prediction"] = [labels[k] for k in predictor.predict_classes(X)]
    for k, label in enumerate(labels):
        columns[f"probability[{label}]"] = probabilities[:, k]
    return pd.DataFrame(columns)

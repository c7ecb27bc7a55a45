"""A saved model directory: ``model.safetensors`` (the numbers) and ``model.json``
(everything else needed to reload it and predict: the model spec, the feature names, the
tabular encoder with its levels, imputation values and scaler statistics, the class labels).

Both files are written atomically (temporary file, then rename), so an interrupted run never
leaves a half-written file behind; and as a pair: ``model.safetensors`` first, then
``model.json`` recording its SHA-256, which :func:`load_model` checks, so a run killed between
the two renames (a new ``model.safetensors`` beside the previous ``model.json``) is detected,
never loaded as a mismatched model. ``chainrule fit --out DIR`` refuses a directory that already
holds a model unless ``--overwrite`` (:func:`refuse_overwrite`).
"""
from __future__ import annotations

import hashlib
import json
import pathlib
import sys

import numpy as np

from .errors import CommandError
from .models import Predictor

FORMAT = "chainrule-model"
FORMAT_VERSION = 1
MODEL_FILE = "model.safetensors"
SPEC_FILE = "model.json"


def save_model(directory, predictor: Predictor, encoder, *, target: str, extra: dict | None = None) -> None:
    """Write ``predictor`` and ``encoder`` to ``directory``."""
    from ..engine.serialization import save_checkpoint

    directory = pathlib.Path(directory)
    if predictor.network is not None:
        tensors = {f"network.{name}": value for name, value in predictor.network.state_dict().items()}
    else:
        tensors = {"coef": predictor.coef, "intercept": predictor.intercept}
    spec = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model": predictor.kind,
        "task": predictor.task,
        "target": target,
        "classes": _jsonable_labels(predictor.classes),
        "feature_names": list(encoder.feature_names_),
        "network": predictor.network_spec or None,
        "encoder": encoder.to_dict(),
    }
    spec.update(extra or {})
    save_checkpoint(directory / MODEL_FILE, tensors, metadata={"format": FORMAT})
    spec["weights_sha256"] = _sha256(directory / MODEL_FILE)
    write_json(directory / SPEC_FILE, spec)  # the commit point: the pair is whole once this is renamed


def load_model(directory):
    """``(predictor, encoder, spec)`` from a directory written by :func:`save_model`."""
    from ..engine.serialization import load_checkpoint
    from ..tabular import TabularEncoder

    directory = pathlib.Path(directory)
    spec_path, weights_path = directory / SPEC_FILE, directory / MODEL_FILE
    for path in (spec_path, weights_path):
        if not path.is_file():
            raise CommandError(f"{str(directory)!r} is not a saved chainrule model: {path.name} "
                               "is missing (chainrule fit ... --out DIR writes one)")
    try:
        spec = json.loads(spec_path.read_text())
    except (OSError, ValueError) as exc:
        raise CommandError(f"{str(spec_path)!r} is corrupt or not a chainrule model: it is not readable "
                           f"JSON ({exc}); fit the model again") from None
    if not isinstance(spec, dict) or spec.get("format") != FORMAT or spec.get("format_version") != FORMAT_VERSION:
        found = spec if not isinstance(spec, dict) else spec.get("format")
        version = None if not isinstance(spec, dict) else spec.get("format_version")
        raise CommandError(f"{spec_path} is not a chainrule model of format version "
                           f"{FORMAT_VERSION} (found {found!r} version {version!r})")
    recorded = spec.get("weights_sha256")  # absent in models written before the pair was checked
    if recorded is not None and recorded != _sha256(weights_path):
        raise CommandError(
            f"{str(weights_path)!r} and {str(spec_path)!r} do not belong together: the weights' checksum "
            f"differs from the one model.json records (a fit writing {str(directory)!r} was interrupted, or a "
            f"file was replaced); fit the model again"
        )
    try:
        arrays, metadata = load_checkpoint(weights_path, "loading the model")
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    if metadata.get("format") != FORMAT:
        raise CommandError(f"{str(weights_path)!r} is not a chainrule model: its metadata has format "
                           f"{metadata.get('format')!r}, expected {FORMAT!r}")
    encoder = TabularEncoder.from_dict(spec["encoder"])
    predictor = Predictor(kind=spec["model"], task=spec["task"], classes=spec["classes"],
                          network_spec=spec.get("network") or {})
    if spec.get("text"):  # --text inputs: the text network (cli/text_inputs.py)
        from .text_inputs import rebuild_text_network

        predictor.network = rebuild_text_network(spec["network"], arrays)
    elif spec["model"] == "mlp" or spec.get("network"):
        predictor.network = _rebuild_network(spec["network"], arrays)
    else:
        predictor.coef, predictor.intercept = arrays["coef"], arrays["intercept"]
    return predictor, encoder, spec


def _rebuild_network(network_spec: dict, arrays: dict):
    from .. import nn

    network = nn.MLP(network_spec["sizes"], activation=network_spec["activation"],
                     dropout=network_spec["dropout"], batchnorm=network_spec["batchnorm"])
    prefix = "network."
    state = {name[len(prefix):]: value for name, value in arrays.items() if name.startswith(prefix)}
    network.load_state_dict(state)
    network.eval()
    return network


def _jsonable_labels(classes):
    if classes is None:
        return None
    return [label.item() if isinstance(label, np.generic) else label for label in classes]


def write_json(path, content: dict) -> None:
    """Write ``content`` as indented JSON to ``path`` atomically."""
    from ..engine.serialization import atomic_write

    text = json.dumps(content, indent=2, sort_keys=False, default=_json_default) + "\n"
    atomic_write(path, text.encode("utf-8"))


def strict_json(value):
    """``value`` with every non-finite float (an infinite condition number, an overflowed
    loss) replaced by None, so the file is standard JSON (which has no Infinity or NaN)."""
    if isinstance(value, dict):
        return {key: strict_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict_json(item) for item in value]
    if isinstance(value, (float, np.floating)) and not np.isfinite(value):
        return None
    return value


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, pathlib.PurePath):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def _sha256(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def refuse_overwrite(command):
    """``command`` (a subcommand's ``run(args)``) refusing, with exit code 2 before any work, an
    ``--out`` directory that already holds a model (model.safetensors or model.json) unless
    ``--overwrite`` was given."""
    def run(args):
        directory = pathlib.Path(getattr(args, "out", None) or "chainrule-output")
        existing = [name for name in (MODEL_FILE, SPEC_FILE) if (directory / name).exists()]
        if existing and not getattr(args, "overwrite", False):
            print(f"chainrule {getattr(args, 'command', 'fit')}: error: --out {str(directory)!r} already holds a "
                  f"model ({', '.join(existing)}); pass --overwrite to replace it, or choose another --out",
                  file=sys.stderr)
            raise SystemExit(2)
        return command(args)

    run.__doc__ = command.__doc__
    return run

"""Tests for chainrule.checkpoint: atomic safetensors files and exact state encoding."""
from __future__ import annotations

import os

import numpy as np
import pytest

import chainrule as cr
from chainrule import checkpoint
from chainrule.checkpoint import (
    decode_state,
    encode_state,
    load_checkpoint,
    save_checkpoint,
)


@pytest.mark.parametrize("array", [
    np.arange(6, dtype=np.float32).reshape(2, 3),
    np.array([1e-300, np.pi, -0.0]),
    np.array(3, dtype=np.int64),  # 0-d
    np.array([True, False]),
    np.arange(12, dtype=np.float64).reshape(3, 4).T,  # non-contiguous
])
def test_round_trip_is_bit_exact(tmp_path, array):
    path = tmp_path / "c.safetensors"
    save_checkpoint(path, {"a": array, "t": cr.tensor(array)}, {"note": "hi"})
    arrays, metadata = load_checkpoint(path)
    for name in ("a", "t"):
        assert arrays[name].dtype == array.dtype and arrays[name].shape == array.shape
        assert arrays[name].tobytes() == np.ascontiguousarray(array).tobytes()
        assert arrays[name].flags.writeable
    assert metadata == {"note": "hi"}


def test_the_file_is_plain_safetensors(tmp_path):
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    path = tmp_path / "c.safetensors"
    save_checkpoint(path, {"w": np.ones((2, 2), dtype=np.float32)})
    np.testing.assert_array_equal(safetensors_numpy.load_file(str(path))["w"], np.ones((2, 2)))


def test_write_leaves_no_temporary_files_and_replaces_the_old_file(tmp_path):
    path = tmp_path / "c.safetensors"
    save_checkpoint(path, {"v": np.zeros(3)})
    save_checkpoint(path, {"v": np.ones(3)})
    assert os.listdir(tmp_path) == ["c.safetensors"]
    np.testing.assert_array_equal(load_checkpoint(path)[0]["v"], np.ones(3))


def test_a_failed_write_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "c.safetensors"
    save_checkpoint(path, {"v": np.zeros(3)})
    synced = []
    monkeypatch.setattr(checkpoint.os, "fsync", lambda fd: synced.append(fd))

    def crash(source, target):
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint.os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, {"v": np.ones(3)})
    assert synced  # the temporary file was fsync-ed before the rename was attempted
    assert os.listdir(tmp_path) == ["c.safetensors"]
    np.testing.assert_array_equal(load_checkpoint(path)[0]["v"], np.zeros(3))


def test_the_rename_is_fsync_ed_file_then_directory(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(checkpoint.os, "fsync", lambda fd: (events.append("fsync"), real_fsync(fd)))
    monkeypatch.setattr(checkpoint.os, "replace", lambda a, b: (events.append("replace"), real_replace(a, b)))
    save_checkpoint(tmp_path / "c.safetensors", {"v": np.zeros(3)})
    assert events == ["fsync", "replace", "fsync"]


@pytest.mark.parametrize("tensors, metadata, match", [
    ({1: np.zeros(2)}, None, "names must be str"),
    ({"a": [1, 2]}, None, "expected an array or a Tensor"),
    ({}, {"epoch": 3}, "metadata must map str to str"),
])
def test_save_rejects(tmp_path, tensors, metadata, match):
    with pytest.raises(TypeError, match=match):
        save_checkpoint(tmp_path / "c.safetensors", tensors, metadata)


def test_load_missing_file_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.safetensors"):
        load_checkpoint(tmp_path / "nope.safetensors")


def test_encode_decode_restores_nested_state_exactly():
    state = {
        "state": {0: {"step": 3, "exp_avg": np.arange(3, dtype=np.float32)},
                  7: {"momentum_buffer": cr.tensor([1.5, -2.0])}},
        "param_groups": [{"lr": 0.1, "betas": (0.9, 0.999), "params": [0, 7], "nesterov": False,
                          "name": None}],
        "scalar": np.float32(0.1),
        "big": 2**100 + 1,
        "nan": float("nan"),
    }
    text, arrays = encode_state(state, prefix="optimizer.")
    assert set(arrays) == {"optimizer.state.0.exp_avg", "optimizer.state.7.momentum_buffer", "optimizer.scalar"}
    back = decode_state(text, arrays)
    assert list(back["state"]) == [0, 7]  # integer keys stay integers
    assert back["state"][0]["step"] == 3
    assert back["state"][0]["exp_avg"].dtype == np.float32
    np.testing.assert_array_equal(back["state"][0]["exp_avg"], [0, 1, 2])
    assert isinstance(back["state"][7]["momentum_buffer"], cr.Tensor)
    assert back["param_groups"][0]["betas"] == (0.9, 0.999)  # tuples stay tuples
    assert type(back["scalar"]) is np.float32 and back["scalar"] == np.float32(0.1)
    assert back["big"] == 2**100 + 1 and np.isnan(back["nan"])


@pytest.mark.parametrize("state, error, match", [
    ({"f": lambda: 0}, TypeError, "cannot store a function at 'f'"),
    ({"d": {1: 0, "a": 1}}, TypeError, "all str or all int"),
])
def test_encode_rejects_what_json_cannot_hold(state, error, match):
    with pytest.raises(error, match=match):
        encode_state(state, prefix="")

"""chainrule.save / chainrule.load: state dicts and tensors in safetensors files, round trips
bit for bit, atomic writes, and clear errors for files that are not what load expects."""
from __future__ import annotations

import math
import os

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.engine import serialization


def trained(seed: int = 0):
    """A small model and its Adam optimizer after two steps (so both have state)."""
    cr.manual_seed(seed)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2))
    opt = optim.Adam(model.parameters(), lr=0.01, amsgrad=True)
    x = cr.randn(8, 3)
    for _ in range(2):
        opt.zero_grad()
        (model(x) ** 2).mean().backward()
        opt.step()
    return model, opt, x


def assert_same_bits(a, b):
    a = a.numpy() if isinstance(a, cr.Tensor) else np.asarray(a)
    b = b.numpy() if isinstance(b, cr.Tensor) else np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape
    assert np.ascontiguousarray(a).tobytes() == np.ascontiguousarray(b).tobytes()


# ---------------------------------------------------------------------- round trips

def test_model_state_dict_round_trip(tmp_path):
    model, _, x = trained()
    path = tmp_path / "model.safetensors"
    cr.save(model.state_dict(), path)
    loaded = cr.load(path)
    state = model.state_dict()
    assert list(loaded) == list(state)  # same keys, same order
    for key, value in state.items():
        assert isinstance(loaded[key], cr.Tensor) and loaded[key].device == "cpu"
        assert_same_bits(loaded[key], value)
    assert loaded["1.num_batches_tracked"].dtype == cr.int64
    cr.manual_seed(1)
    other = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2))
    other.load_state_dict(loaded)
    model.eval(), other.eval()
    assert_same_bits(other(x), model(x))


def test_optimizer_state_dict_round_trip_continues_bit_identically(tmp_path):
    model, opt, x = trained()
    path = str(tmp_path / "opt.safetensors")  # a str path works as well as a Path
    cr.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 3}, path)
    checkpoint = cr.load(path)
    assert checkpoint["epoch"] == 3
    saved_groups = opt.state_dict()["param_groups"]
    assert checkpoint["optimizer"]["param_groups"] == saved_groups  # tuples (betas) stay tuples
    assert sorted(checkpoint["optimizer"]["state"]) == [0, 1, 2, 3, 4, 5]  # int keys stay ints

    model2 = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2))
    opt2 = optim.Adam(model2.parameters(), lr=0.5)
    model2.load_state_dict(checkpoint["model"])
    opt2.load_state_dict(checkpoint["optimizer"])
    for m, o in ((model, opt), (model2, opt2)):
        for _ in range(3):
            o.zero_grad()
            (m(x) ** 2).mean().backward()
            o.step()
    for p, q in zip(model.parameters(), model2.parameters()):
        assert_same_bits(p, q)


@pytest.mark.parametrize("value", [
    cr.tensor([1.5, -2.0, 3.25]),
    cr.tensor(np.arange(12, dtype=np.float64).reshape(3, 4)).T,  # non-contiguous
    cr.tensor(7),  # 0-d int64
    cr.tensor([True, False]),
    cr.zeros(0, 3),  # empty
    cr.tensor([[np.inf, -np.inf, np.nan, -0.0, 1e-300]], dtype=cr.float64),
])
def test_a_single_tensor_round_trips_bit_for_bit(tmp_path, value):
    path = tmp_path / "t.safetensors"
    cr.save(value, path)
    loaded = cr.load(path)
    assert isinstance(loaded, cr.Tensor) and not loaded.requires_grad
    assert_same_bits(loaded, value)


def test_requires_grad_is_kept(tmp_path):
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    cr.save({"w": w, "list": [w.detach()]}, tmp_path / "w.safetensors")
    loaded = cr.load(tmp_path / "w.safetensors")
    assert loaded["w"].requires_grad and loaded["w"].is_leaf
    assert not loaded["list"][0].requires_grad


def test_plain_values_come_back_as_they_were(tmp_path):
    state = {
        "epoch": 3, "lr": 0.1, "name": "run-1", "done": False, "nothing": None, "inf": math.inf,
        "sizes": [784, 256, 10], "betas": (0.9, 0.999), "by_index": {0: "a", 7: [1, 2]},
        "nested": {"history": {"loss": [1.0, 0.5]}, "array": np.arange(3, dtype=np.int32),
                   "scalar": np.float32(2.5)},
        "empty": {}, "empty_list": [],
    }
    path = tmp_path / "s.safetensors"
    cr.save(state, path)
    loaded = cr.load(path)
    arrays = (loaded["nested"].pop("array"), state["nested"].pop("array"))
    assert isinstance(arrays[0], np.ndarray)
    assert_same_bits(*arrays)
    scalars = (loaded["nested"].pop("scalar"), state["nested"].pop("scalar"))
    assert type(scalars[0]) is np.float32 and scalars[0] == scalars[1]
    assert loaded == state
    assert isinstance(loaded["betas"], tuple) and isinstance(loaded["sizes"], list)


def test_a_list_at_the_top_level(tmp_path):
    cr.save([cr.ones(2), 3, "x"], tmp_path / "l.safetensors")
    first, second, third = cr.load(tmp_path / "l.safetensors")
    assert first.tolist() == [1.0, 1.0] and second == 3 and third == "x"


def test_the_file_is_plain_safetensors_with_the_state_dict_names(tmp_path):
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    model, _, _ = trained()
    path = tmp_path / "model.safetensors"
    cr.save(model.state_dict(), path)
    arrays = safetensors_numpy.load_file(str(path))
    assert set(arrays) == set(model.state_dict())
    np.testing.assert_array_equal(arrays["0.weight"], model[0].weight.numpy())


# ---------------------------------------------------------------------- atomic writes

def test_the_write_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "m.safetensors"
    cr.save({"v": cr.zeros(3)}, path)

    def crash(source, target):
        raise OSError("disk full")

    monkeypatch.setattr(serialization.os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        cr.save({"v": cr.ones(3)}, path)
    assert os.listdir(tmp_path) == ["m.safetensors"]  # no temporary file left behind
    assert cr.load(path)["v"].tolist() == [0.0, 0.0, 0.0]  # the previous file is whole


# ---------------------------------------------------------------------- what cannot be saved

class Opaque:
    pass


@pytest.mark.parametrize("obj, match", [
    ({"model": {"w": cr.ones(2), "bad": {1, 2}}}, r"cannot store a set at 'model\.bad'"),
    ({"callbacks": [Opaque()]}, r"cannot store a Opaque at 'callbacks\.0'"),
    ({"fn": len}, r"cannot store a builtin_function_or_method at 'fn'"),
    ({"layer": nn.Linear(2, 2)}, r"cannot store a Linear at 'layer'"),
    ({(1, 2): cr.ones(1)}, r"keys of the dict at the top level must be all str or all int; got keys of type tuple"),
    ({"a": {"x": 1, 2: 3}}, r"keys of the dict at 'a' must be all str or all int; got keys of type int, str"),
    (nn.Linear(2, 2), r"expected a Tensor or a dict/list/tuple state .*got Linear"),
    ({1, 2}, r"got set"),
])
def test_values_it_cannot_save_raise_a_type_error_naming_them(tmp_path, obj, match):
    path = tmp_path / "bad.safetensors"
    with pytest.raises(TypeError, match=match):
        cr.save(obj, path)
    assert not path.exists()  # nothing is written


def test_two_values_under_one_name_are_refused(tmp_path):
    with pytest.raises(ValueError, match="two arrays would be stored as 'a.b'"):
        cr.save({"a.b": cr.ones(1), "a": {"b": cr.zeros(1)}}, tmp_path / "x.safetensors")


# ---------------------------------------------------------------------- files load cannot read

def saved_file(tmp_path):
    path = tmp_path / "good.safetensors"
    cr.save({"w": cr.arange(100, dtype=cr.float32), "epoch": 1}, path)
    return path


def test_a_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no file at .*nothing.safetensors"):
        cr.load(tmp_path / "nothing.safetensors")


def test_an_empty_file(tmp_path):
    path = tmp_path / "empty.safetensors"
    path.write_bytes(b"")
    with pytest.raises(ValueError, match=r"'.*empty\.safetensors' is empty \(0 bytes\)"):
        cr.load(path)


@pytest.mark.parametrize("keep", [3, 8, 20, -1, -200])
def test_a_truncated_file(tmp_path, keep):
    path = saved_file(tmp_path)
    blob = path.read_bytes()
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(blob[:keep])
    if 0 <= keep < 8:
        match = "cut.safetensors' is not a safetensors file, or a truncated one: it has 3 bytes"
    else:
        match = rf"cut\.safetensors' is truncated: it has {len(blob[:keep])} bytes but its header describes"
    with pytest.raises(ValueError, match=match):
        cr.load(cut)


@pytest.mark.parametrize("content", [
    b"epoch,loss\n1,0.5\n2,0.25\n",
    b"PK\x03\x04" + bytes(200),  # a zip (torch.save's format)
    (12).to_bytes(8, "little") + b"{not json!!}",
])
def test_a_file_that_is_not_safetensors(tmp_path, content):
    path = tmp_path / "other.bin"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=r"'.*other\.bin' is not a safetensors file"):
        cr.load(path)


def test_a_safetensors_file_from_another_writer(tmp_path):
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    path = tmp_path / "hf.safetensors"
    safetensors_numpy.save_file({"w": np.ones(3, np.float32)}, str(path))
    with pytest.raises(ValueError, match=r"'.*hf\.safetensors' is a safetensors file but was not written by "
                                         r"chainrule\.save \(its metadata has format None"):
        cr.load(path)


def test_a_trainer_checkpoint_is_named_as_one(tmp_path):
    from chainrule.train import Trainer

    model, opt, _ = trained()
    trainer = Trainer(model, nn.MSELoss(), opt, verbose=0)
    trainer.save_checkpoint(tmp_path / "run.safetensors")
    with pytest.raises(ValueError, match=r"is a Trainer checkpoint, not a file written by chainrule\.save"):
        cr.load(tmp_path / "run.safetensors")


def test_load_checkpoint_names_a_truncated_file_too(tmp_path):
    path = saved_file(tmp_path)
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(ValueError, match="load_checkpoint: .* is truncated"):
        serialization.load_checkpoint(path)

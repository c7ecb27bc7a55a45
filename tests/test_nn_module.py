"""Module machinery (chainrule.nn.module, parameter, containers): Parameter, registration, traversal,
train/eval, zero_grad, state_dict round trips and their errors, repr, to(),
Sequential and ModuleList."""
from __future__ import annotations

import copy

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn


class Block(nn.Module):
    """A hand-written module: one parameter, one buffer, two children (one shared twice)."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(cr.ones(3))
        self.register_buffer("count", cr.zeros(1))
        self.first = nn.Linear(3, 4)
        self.second = nn.Linear(4, 2, bias=False)
        self.tied = self.first  # the same module under a second name
        self.note = "plain attribute"

    def forward(self, x):
        return self.second(self.first(x * self.scale).relu())


# ---------------------------------------------------------------------- Parameter

@pytest.mark.parametrize("data, dtype", [
    ([1.0, 2.0], np.float32),
    (np.array([[1.0]], dtype=np.float64), np.float64),
    (cr.zeros(2, 3, dtype=cr.float64), np.float64),
])
def test_parameter_is_a_leaf_that_requires_grad(data, dtype):
    p = nn.Parameter(data)
    assert isinstance(p, cr.Tensor) and isinstance(p, nn.Parameter)
    assert p.requires_grad and p.is_leaf and p.grad is None and p.grad_slot is None
    assert p.dtype == dtype
    assert not nn.Parameter(data, requires_grad=False).requires_grad


def test_parameter_shares_a_tensors_memory_and_copies_other_data():
    t = cr.zeros(3)
    p = nn.Parameter(t)
    assert p.data is t.data
    array = np.zeros(3, dtype=np.float32)
    q = nn.Parameter(array)
    q.data[0] = 5.0
    assert array[0] == 0.0


@pytest.mark.parametrize("data, dtype", [([1, 2], "int64"), ([True], "bool")])
def test_parameter_must_be_floating_point(data, dtype):
    with pytest.raises(TypeError,
                       match=rf"^Parameter: data must be floating point \(float32 or float64\); got dtype {dtype}"):
        nn.Parameter(data)


def test_parameter_grad_slot_receives_the_gradient():
    p = nn.Parameter(cr.tensor([1.0, 2.0, 3.0]))
    flat = np.zeros(5, dtype=np.float32)
    p.grad_slot = flat[1:4]
    (p * p).sum().backward()
    np.testing.assert_array_equal(flat, [0.0, 2.0, 4.0, 6.0, 0.0])
    assert np.shares_memory(p.grad.data, flat)


def test_parameter_repr_and_ops_return_plain_tensors():
    p = nn.Parameter(cr.tensor([1.0]))
    assert repr(p).startswith("Parameter containing:\ntensor([1.]")
    assert type(p * 2) is cr.Tensor


# ---------------------------------------------------------------------- registration and traversal

def test_named_parameters_follow_registration_order_and_share_once():
    block = Block()
    names = [name for name, _ in block.named_parameters()]
    assert names == ["scale", "first.weight", "first.bias", "second.weight"]
    assert [p.shape for p in block.parameters()] == [(3,), (4, 3), (4,), (2, 4)]
    assert block.num_parameters() == 3 + 12 + 4 + 8
    assert [name for name, _ in block.named_buffers()] == ["count"]
    assert [name for name, _ in block.named_children()] == ["first", "second"]
    assert [name for name, _ in block.named_modules()] == ["", "first", "second"]
    assert list(block.children()) == [block.first, block.second]
    assert block.tied is block.first and block.note == "plain attribute"


def test_reassignment_moves_between_registries_and_deletion():
    block = Block()
    block.second = nn.Parameter(cr.zeros(2))  # a module slot becomes a parameter
    assert "second" not in block._modules and block._parameters["second"] is block.second
    del block.scale
    assert "scale" not in dict(block.named_parameters())
    block.first = None
    assert block.first is None and list(block.children()) == [block.tied]
    with pytest.raises(TypeError,
                       match=r"Block: cannot assign Tensor to parameter 'second'; expected a Parameter or None"):
        block.second = cr.zeros(2)


def test_assigning_before_init_names_the_fix():
    class Broken(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(2, 2)

    with pytest.raises(AttributeError, match=r"Broken: cannot assign Linear 'fc' before Module.__init__\(\) is called; "
                                             r"call super\(\).__init__\(\) first"):
        Broken()


@pytest.mark.parametrize("method, value, error, message", [
    ("register_parameter", cr.zeros(2), TypeError,
     r"register_parameter: expected a Parameter or None for 'x'; got Tensor"),
    ("register_buffer", [1.0], TypeError, r"register_buffer: expected a Tensor or None for 'x'; got list"),
    ("add_module", cr.zeros(2), TypeError, r"add_module: expected a Module or None for 'x'; got Tensor"),
])
def test_registration_errors(method, value, error, message):
    with pytest.raises(error, match=message):
        getattr(nn.Module(), method)("x", value)
    with pytest.raises(KeyError, match=r"name must be a non-empty string without '.'"):
        getattr(nn.Module(), method)("a.b", None)


def test_train_eval_propagate_and_apply_visits_every_module():
    model = nn.MLP([3, 4, 2], dropout=0.5)
    assert all(m.training for m in model.modules())
    assert model.eval() is model
    assert not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())
    visited = []
    model.apply(lambda m: visited.append(type(m).__name__))
    assert visited == ["Linear", "ReLU", "Dropout", "Linear", "Sequential", "MLP"]


@pytest.mark.parametrize("set_to_none", [True, False])
def test_zero_grad(set_to_none):
    model = nn.Linear(3, 2)
    model(cr.ones(4, 3)).sum().backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None for g in grads)
    model.zero_grad(set_to_none=set_to_none)
    for p, g in zip(model.parameters(), grads):
        if set_to_none:
            assert p.grad is None
        else:
            assert p.grad is g and not g.numpy().any()


def test_requires_grad_false_freezes():
    model = nn.Linear(3, 2).requires_grad_(False)
    assert not any(p.requires_grad for p in model.parameters())
    assert model.num_parameters(trainable_only=True) == 0 and model.num_parameters() == 8


# ---------------------------------------------------------------------- state_dict

STATE_KEYS = [
    pytest.param(lambda: nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)),
                 ["0.weight", "0.bias", "2.weight", "2.bias"], id="Sequential"),
    pytest.param(lambda: nn.MLP([2, 3, 1], batchnorm=True),
                 ["layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias", "layers.1.running_mean",
                  "layers.1.running_var", "layers.1.num_batches_tracked", "layers.3.weight", "layers.3.bias"],
                 id="MLP-batchnorm"),
    pytest.param(Block, ["scale", "count", "first.weight", "first.bias", "second.weight", "tied.weight", "tied.bias"],
                 id="custom-shared"),
]


@pytest.mark.parametrize("make, keys", STATE_KEYS)
def test_state_dict_keys_and_round_trip(make, keys):
    cr.manual_seed(0)
    source = make()
    if isinstance(source, nn.MLP):
        source(cr.randn(8, 2))  # move the running statistics off their initial values
    state = source.state_dict()
    assert list(state) == keys
    cr.manual_seed(1)
    target = make()
    before = {name: p for name, p in target.named_parameters()}
    arrays = {name: p.data for name, p in target.named_parameters()}
    result = target.load_state_dict(state)
    assert result.missing_keys == [] and result.unexpected_keys == []
    for key, value in target.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), state[key].numpy())
    for name, p in target.named_parameters():  # copied in place: same objects, same memory
        assert p is before[name] and p.data is arrays[name]
    x = cr.randn(5, 2 if not isinstance(source, Block) else 3)
    source.eval(), target.eval()
    np.testing.assert_array_equal(target(x).numpy(), source(x).numpy())


def test_load_state_dict_keeps_flat_buffer_views_valid():
    model = nn.Linear(3, 2)
    flat = np.zeros(8, dtype=np.float32)
    offset = 0
    for p in model.parameters():  # what an optimizer with a flat buffer does
        view = flat[offset:offset + p.numel()].reshape(p.shape)
        view[...] = p.data
        p.data = view
        offset += p.numel()
    new = {"weight": np.arange(6.0).reshape(2, 3), "bias": cr.tensor([7.0, 8.0])}
    model.load_state_dict(new)
    np.testing.assert_array_equal(flat, [0, 1, 2, 3, 4, 5, 7, 8])


def test_state_dict_shares_memory_and_keep_vars():
    model = nn.Linear(2, 2)
    state = model.state_dict()
    assert np.shares_memory(state["weight"].data, model.weight.data)
    assert type(state["weight"]) is cr.Tensor and not state["weight"].requires_grad
    assert model.state_dict(keep_vars=True)["weight"] is model.weight
    assert list(model.state_dict(prefix="net.")) == ["net.weight", "net.bias"]


def test_strict_load_lists_missing_and_unexpected_keys_and_writes_nothing():
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    original = model.state_dict(keep_vars=True)["0.weight"].numpy().copy()
    state = {k: v.clone() + 1 for k, v in model.state_dict().items() if not k.startswith("2.")}
    state["3.weight"] = cr.zeros(1, 3)
    with pytest.raises(RuntimeError) as info:
        model.load_state_dict(state)
    message = str(info.value)
    assert "load_state_dict: could not load into Sequential" in message
    assert "missing keys (in Sequential, not in the state dict): ['2.weight', '2.bias']" in message
    assert "unexpected keys (in the state dict, not in Sequential): ['3.weight']" in message
    assert "Pass strict=False" in message
    np.testing.assert_array_equal(model[0].weight.numpy(), original)  # all-or-nothing
    result = model.load_state_dict(state, strict=False)
    assert result == nn.IncompatibleKeys(["2.weight", "2.bias"], ["3.weight"])
    np.testing.assert_array_equal(model[0].weight.numpy(), original + 1)


def test_shape_mismatch_names_key_and_both_shapes_even_when_not_strict():
    model = nn.Linear(784, 256)
    state = model.state_dict()
    state["weight"] = cr.zeros(256, 783)
    for strict in (True, False):
        with pytest.raises(RuntimeError, match=r"size mismatch for 'weight': the state dict has shape \(256, 783\), "
                                               r"the model has shape \(256, 784\)"):
            model.load_state_dict(state, strict=strict)


def test_load_casts_dtype_and_non_persistent_buffers_are_not_saved():
    model = nn.Linear(2, 1)
    model.load_state_dict({"weight": np.array([[1.0, 2.0]]), "bias": [3.0]})
    assert model.weight.dtype == np.float32 and model.bias.tolist() == [3.0]
    model.register_buffer("scratch", cr.zeros(2), persistent=False)
    assert list(model.state_dict()) == ["weight", "bias"]
    assert [name for name, _ in model.named_buffers()] == ["scratch"]


# ---------------------------------------------------------------------- repr, to, copy

def test_repr_is_a_readable_tree():
    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Dropout(0.1), nn.Linear(256, 10, bias=False))
    assert repr(model) == (
        "Sequential(\n"
        "  (0): Linear(in_features=784, out_features=256, bias=True)\n"
        "  (1): ReLU()\n"
        "  (2): Dropout(p=0.1)\n"
        "  (3): Linear(in_features=256, out_features=10, bias=False)\n"
        ")"
    )
    nested = repr(nn.MLP([2, 3, 1]))
    assert nested == (
        "MLP(\n"
        "  sizes=[2, 3, 1]\n"
        "  (layers): Sequential(\n"
        "    (0): Linear(in_features=2, out_features=3, bias=True)\n"
        "    (1): ReLU()\n"
        "    (2): Linear(in_features=3, out_features=1, bias=True)\n"
        "  )\n"
        ")"
    )


def test_to_dtype_keeps_objects_and_leaves_integer_buffers():
    model = nn.MLP([3, 4, 2], batchnorm=True)
    params = list(model.parameters())
    assert model.to(cr.float64) is model
    assert [p is q for p, q in zip(model.parameters(), params)] == [True] * len(params)
    assert all(p.dtype == np.float64 for p in model.parameters())
    bn = model.layers[1]
    assert bn.running_mean.dtype == np.float64 and bn.num_batches_tracked.dtype == np.int64
    out = model(cr.randn(5, 3, dtype=cr.float64))
    assert out.dtype == np.float64
    assert model.float().layers[0].weight.dtype == np.float32
    with pytest.raises(TypeError, match=r"to: modules can only be cast to floating-point dtypes; got int64"):
        model.to(cr.int64)


def test_deepcopy_gives_an_independent_equal_model():
    model = Block()
    clone = copy.deepcopy(model)
    assert clone.tied is clone.first and clone.first is not model.first
    for (_name, p), (_, q) in zip(model.named_parameters(), clone.named_parameters()):
        assert isinstance(q, nn.Parameter) and q.requires_grad
        np.testing.assert_array_equal(p.numpy(), q.numpy())
        assert not np.shares_memory(p.data, q.data)


# ---------------------------------------------------------------------- containers

def test_sequential_indexing_slicing_append_and_dict():
    a, b, c = nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1)
    seq = nn.Sequential(a, b)
    assert len(seq) == 2 and seq[0] is a and seq[-1] is b and list(seq) == [a, b]
    seq.append(c)
    assert seq[2] is c and [type(m) for m in seq[1:]] == [nn.Tanh, nn.Linear]
    x = cr.randn(4, 2)
    np.testing.assert_array_equal(seq(x).numpy(), c(b(a(x))).numpy())
    named = nn.Sequential({"hidden": a, "act": b})
    assert list(named.state_dict()) == ["hidden.weight", "hidden.bias"]
    with pytest.raises(IndexError, match=r"Sequential: index 3 is out of range for 3 module\(s\)"):
        seq[3]
    with pytest.raises(TypeError, match=r"Sequential: element 1 must be a Module; got function"):
        nn.Sequential(a, lambda x: x)


def test_module_list_registers_and_has_no_forward():
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    assert len(layers) == 3 and len(list(layers.parameters())) == 6
    layers.append(nn.ReLU())
    layers[0] = nn.Linear(2, 5)
    assert layers[0].out_features == 5 and isinstance(layers[-1], nn.ReLU)  # replaced in place
    assert [type(m).__name__ for m in layers] == ["Linear", "Linear", "Linear", "ReLU"]
    assert list(layers.state_dict())[:2] == ["0.weight", "0.bias"]
    with pytest.raises(NotImplementedError, match="ModuleList has no forward"):
        layers(cr.zeros(1, 2))


def test_custom_module_trains_end_to_end():
    cr.manual_seed(3)
    model = Block()
    x = cr.randn(16, 3)
    y = cr.randint(0, 2, (16,))
    first = F.cross_entropy(model(x), y).item()
    for _ in range(50):
        model.zero_grad()
        F.cross_entropy(model(x), y).backward()
        with cr.no_grad():
            for p in model.parameters():
                p.data -= 0.5 * p.grad.data
    assert F.cross_entropy(model(x), y).item() < 0.75 * first


def test_loading_after_forward_makes_that_graph_refuse_backward():
    model = nn.Linear(3, 2)
    loss = model(cr.ones(4, 3)).sum()
    model.load_state_dict(nn.Linear(3, 2).state_dict())
    with pytest.raises(RuntimeError, match=r"backward: an input of linear .* was modified in place"):
        loss.backward()


def test_loads_a_pytorch_state_dict():
    torch = pytest.importorskip("torch")
    theirs = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    ours = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    ours.load_state_dict(theirs.state_dict())  # same names, same (out, in) weight layout
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    np.testing.assert_allclose(ours(cr.tensor(x)).numpy(), theirs(torch.tensor(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------- summary

SUMMARY = '''Model: "Sequential"
________________________________________________________________
 Layer (type)                Output Shape             Param #
================================================================
 0 (Linear)                  (5, 4)                   16
 1 (BatchNorm1d)             (5, 4)                   8
 2 (ReLU)                    (5, 4)                   0
 3 (Sequential)              (5, 2)                   --
   3.0 (Linear)              (5, 2)                   10
   3.1 (Tanh)                (5, 2)                   0
================================================================
Total params: 34 (136.00 B)
Trainable params: 30 (120.00 B)
Non-trainable params: 4 (16.00 B)
Buffers (not parameters, e.g. running statistics): 9 (40.00 B)
________________________________________________________________'''


def summary_model():
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Sequential(nn.Linear(4, 2), nn.Tanh()))
    model[0].bias.requires_grad_(False)
    return model


def test_summary_prints_and_returns_a_keras_table():
    model = summary_model()
    printed = []
    text = model.summary((5, 3), print_fn=printed.append)
    assert text == SUMMARY and printed == [SUMMARY]
    assert model.summary((5, 3), print_fn=None) == SUMMARY  # not printed
    assert sum(p.numel() for p in model.parameters()) == 34


def test_summary_leaves_the_model_as_it_was():
    model = summary_model()
    model[3].eval()  # a mixed state: restored module by module
    running = model[1].running_mean.numpy().copy()
    model.summary((5, 3), print_fn=None)
    assert [m.training for m in model.modules()] == [True, True, True, True, False, False, False]
    np.testing.assert_array_equal(model[1].running_mean.numpy(), running)  # evaluation mode: untouched
    assert model[1].num_batches_tracked.item() == 0
    assert all(m._module_hooks is None for m in model.modules())  # its hooks are gone
    assert model(cr.randn(2, 3)).grad_fn is not None  # gradients as before


def test_summary_without_input_size_has_no_shape_column():
    text = summary_model().summary(print_fn=None)
    assert "Output Shape" not in text and " 3.0 (Linear)              10" in text
    assert text.splitlines()[0] == 'Model: "Sequential"'


def test_summary_of_mlp_and_of_a_single_layer():
    text = nn.MLP([784, 256, 256, 10]).summary((1, 784), print_fn=None)
    assert " layers (Sequential)         (1, 10)" in text
    assert "   layers.0 (Linear)         (1, 256)                 200,960" in text
    assert "Total params: 269,322 (1.03 MB)" in text
    single = nn.Linear(3, 2).double().summary((4, 3), print_fn=None)
    assert " Linear (Linear)             (4, 2)                   8" in single
    assert "Total params: 8 (64.00 B)" in single


def test_summary_with_several_inputs_tuple_outputs_and_unused_modules():
    class TwoIn(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b, self.spare = nn.Linear(3, 2), nn.Linear(4, 2), nn.Linear(1, 1)

        def forward(self, x, y):
            return self.a(x), self.b(y)

    text = TwoIn().summary([(2, 3), (2, 4)], print_fn=None)
    assert " a (Linear)                  (2, 2)" in text and " spare (Linear)              --" in text


@pytest.mark.parametrize("input_size", [(2, -1), (2.0, 3), "x", [(2, 3), (1.5,)], ()])
def test_summary_rejects_bad_input_sizes(input_size):
    with pytest.raises(ValueError, match="summary: input_size must be a shape"):
        summary_model().summary(input_size, print_fn=None)

"""Utilities on a model's parameters and gradients, as ``torch.nn.utils``.

clip_grad           clip_grad_norm_, clip_grad_value_ (gradient clipping, in place)
convert_parameters  parameters_to_vector, vector_to_parameters (all parameters as one vector)
rnn                 PackedSequence, pack_padded_sequence, pad_packed_sequence, pad_sequence … (variable-length
                    sequences for the recurrent layers; a submodule, as torch.nn.utils.rnn)
"""
from . import rnn  # the recurrent layers' variable-length sequences, as torch.nn.utils.rnn
from .clip_grad import clip_grad_norm_, clip_grad_value_, clip_grads_with_norm_, total_grad_norm
from .convert_parameters import parameters_to_vector, vector_to_parameters

__all__ = ["clip_grad_norm_", "clip_grad_value_", "clip_grads_with_norm_", "total_grad_norm",
           "parameters_to_vector", "vector_to_parameters", "rnn"]

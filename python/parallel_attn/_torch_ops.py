"""parallel_attn for torch tensors: the custom ops parallel_attn::forward and
parallel_attn::backward (torch.library, torch >= 2.4), with fake implementations for
torch.compile and the forward's autograd formula, so loss.backward() reaches qkv.grad.

The ops take the call's arguments flattened (Args.flat()); the generator is advanced by the
caller, outside the op. With packing, pass max_seqlen_q/k for a graph without breaks: their
defaults are read from cu_seqlens. The softmax output is always there (empty unless
return_softmax), and its packed sizes are data-dependent (dynamic) under torch.compile.
"""
from typing import List, Optional, Tuple

import torch

from . import _call
from ._args import Args

if not hasattr(torch.library, "custom_op"):
    raise ImportError("parallel_attn needs torch >= 2.4 for torch tensors (torch.library.custom_op);"
                      " found torch %s" % torch.__version__)

Tensor = torch.Tensor


def _signed(value):
    """An unsigned 64-bit seed or offset as the int64 an op schema carries."""
    return value - 2 ** 64 if value >= 2 ** 63 else value


def _unsigned(value):
    return value + 2 ** 64 if value < 0 else value


@torch.library.custom_op("parallel_attn::forward", mutates_args=())
def _forward_op(qkv: Tensor, cu_seqlens_q: Optional[Tensor], cu_seqlens_k: Optional[Tensor],
                head_dim: int, group_query_ratio: int, seq_lens: List[int], cp_groups: List[int],
                num_pipelines: int, packing: bool, max_seqlen_q: int, max_seqlen_k: int,
                p_dropout: float, softmax_scale: float, is_causal: bool, return_softmax: bool,
                strategy: int, pipeline: int, split: int, seed: int,
                offset: int) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
    args = Args.from_flat(cu_seqlens_q, cu_seqlens_k, head_dim, group_query_ratio, seq_lens,
                          cp_groups, num_pipelines, packing, max_seqlen_q, max_seqlen_k,
                          p_dropout, softmax_scale, is_causal, return_softmax, strategy,
                          pipeline, split)
    out, lse, rng_state, softmax, _ = _call.forward(args, qkv, _unsigned(seed), _unsigned(offset))
    if softmax is None:
        softmax = qkv.new_empty((0,), dtype=torch.float32)
    return out, lse, rng_state, softmax


@_forward_op.register_fake
def _forward_fake(qkv, cu_seqlens_q, cu_seqlens_k, head_dim, group_query_ratio, seq_lens,
                  cp_groups, num_pipelines, packing, max_seqlen_q, max_seqlen_k, p_dropout,
                  softmax_scale, is_causal, return_softmax, strategy, pipeline, split, seed,
                  offset):
    args = Args.from_flat(cu_seqlens_q, cu_seqlens_k, head_dim, group_query_ratio, seq_lens,
                          cp_groups, num_pipelines, packing, max_seqlen_q, max_seqlen_k,
                          p_dropout, softmax_scale, is_causal, return_softmax, strategy,
                          pipeline, split)
    rows, cols = qkv.shape
    hq = args.num_q_heads(cols)
    f32 = torch.float32
    out = qkv.new_empty((rows, hq * head_dim))
    rng_state = torch.empty((2,), dtype=torch.int64, device="cpu")
    units = args.num_units(rows)
    if packing:
        lse = qkv.new_empty((hq, rows), dtype=f32)
    else:
        length = args.local_len()
        lse = qkv.new_empty((units, hq, length), dtype=f32)
    if not return_softmax:
        softmax = qkv.new_empty((0,), dtype=f32)
    elif packing:
        ctx = torch.library.get_ctx()
        softmax = qkv.new_empty((units, hq, ctx.new_dynamic_size(), ctx.new_dynamic_size()),
                                dtype=f32)
    else:
        key_len = sum(args.local_len(q) for q in args.ring())
        softmax = qkv.new_empty((units, hq, args.local_len(), key_len), dtype=f32)
    return out, lse, rng_state, softmax


@torch.library.custom_op("parallel_attn::backward", mutates_args=())
def _backward_op(dout: Tensor, qkv: Tensor, out: Tensor, softmax_lse: Tensor, rng_state: Tensor,
                 cu_seqlens_q: Optional[Tensor], cu_seqlens_k: Optional[Tensor], head_dim: int,
                 group_query_ratio: int, seq_lens: List[int], cp_groups: List[int],
                 num_pipelines: int, packing: bool, max_seqlen_q: int, max_seqlen_k: int,
                 p_dropout: float, softmax_scale: float, is_causal: bool, return_softmax: bool,
                 strategy: int, pipeline: int, split: int) -> Tensor:
    args = Args.from_flat(cu_seqlens_q, cu_seqlens_k, head_dim, group_query_ratio, seq_lens,
                          cp_groups, num_pipelines, packing, max_seqlen_q, max_seqlen_k,
                          p_dropout, softmax_scale, is_causal, return_softmax, strategy,
                          pipeline, split)
    return _call.backward(args, dout, qkv, out, softmax_lse, rng_state)


@_backward_op.register_fake
def _backward_fake(dout, qkv, *rest):
    return torch.empty_like(qkv)


def _setup_context(ctx, inputs, output):
    qkv, cu_q, cu_k = inputs[:3]
    out, lse, rng_state, _ = output
    ctx.save_for_backward(qkv, out, lse, rng_state, cu_q, cu_k)
    ctx.flat_args = inputs[3:-2]  # head_dim .. split, without the generator state


def _forward_backward(ctx, dout, dlse, drng_state, dsoftmax):
    qkv, out, lse, rng_state, cu_q, cu_k = ctx.saved_tensors
    dqkv = _backward_op(dout.contiguous(), qkv, out, lse, rng_state, cu_q, cu_k, *ctx.flat_args)
    return (dqkv,) + (None,) * 19


_forward_op.register_autograd(_forward_backward, setup_context=_setup_context)


def _as_tensor(x):
    """cu_seqlens given as numpy arrays or lists, as the tensors the op schema takes."""
    return x if x is None or isinstance(x, Tensor) else torch.as_tensor(x)


def _flat(args):
    cu_q, cu_k, *rest = args.flat()
    return [_as_tensor(cu_q), _as_tensor(cu_k)] + rest


def forward(args, qkv, seed, offset):
    """(out, lse, rng_state, softmax or None) through parallel_attn::forward."""
    out, lse, rng_state, softmax = _forward_op(qkv, *_flat(args), _signed(seed),
                                               _signed(offset))
    return out, lse, rng_state, softmax if args.return_softmax else None


def backward(args, dout, qkv, out, softmax_lse, rng_state):
    """dqkv through parallel_attn::backward."""
    rng_state = torch.as_tensor(rng_state, dtype=torch.int64, device="cpu")
    return _backward_op(dout, qkv, out, softmax_lse, rng_state, *_flat(args))

"""The package's functions: parallel_attn (Hetu's signature), its backward, the emulated ring.

numpy arrays and CPU tensors run the reference, CUDA tensors the CUDA backend on the current
stream. torch tensors go through the torch.library ops of _torch_ops.py, so autograd and
torch.compile see one op; numpy arrays call the library directly (_call.py).
"""
from . import _call, _generator
from ._args import Args
from ._arrays import is_torch


def parallel_attn(qkv, head_dim, group_query_ratio, multi_seq_lens, multi_cp_group,
                  packing=False, cu_seqlens_q=None, cu_seqlens_k=None, max_seqlen_q=None,
                  max_seqlen_k=None, p_dropout=0.0, softmax_scale=-1.0, is_causal=True,
                  return_softmax=False, *, strategy=0, pipeline=0, split="contiguous",
                  generator=None):
    """One rank's forward: [output, softmax_lse, rng_state] (+ softmax if return_softmax).

    qkv (rows, (Hq + 2 Hkv) head_dim), fp32/fp16/bf16; multi_seq_lens[s][p] the local length of
    pipeline p under strategy s (packed: its token count), multi_cp_group[s][p] its ring id
    (a flat list is one strategy); cu_seqlens_k defaults to cu_seqlens_q, max_seqlen_q/k to the
    smallest values allowed. output is (rows, Hq head_dim) in qkv's dtype; softmax_lse fp32
    (B, Hq, L), packed (Hq, T); rng_state int64 [seed, offset] on the host; softmax fp32
    (B or P, Hq, Lq_max, Nk_max). strategy, pipeline and split are what Hetu takes from its graph
    context; generator is None (default_generator), (seed, offset) or a Generator to advance.
    """
    args = Args(head_dim, group_query_ratio, multi_seq_lens, multi_cp_group, packing,
                cu_seqlens_q, cu_seqlens_k, max_seqlen_q, max_seqlen_k, p_dropout, softmax_scale,
                is_causal, return_softmax, strategy, pipeline, split)
    seed, offset = _generator.state_of(generator)
    if is_torch(qkv):
        from . import _torch_ops
        out, lse, rng_state, softmax = _torch_ops.forward(args, qkv, seed, offset)
        new_offset = offset + args.generator_advance(qkv.shape[0], qkv.shape[1])
    else:
        out, lse, rng_state, softmax, new_offset = _call.forward(args, qkv, seed, offset)
    _generator.advance(generator, new_offset)
    return [out, lse, rng_state] + ([softmax] if return_softmax else [])


def parallel_attn_backward(dout, qkv, out, softmax_lse, rng_state, head_dim, group_query_ratio,
                           multi_seq_lens, multi_cp_group, packing=False, cu_seqlens_q=None,
                           cu_seqlens_k=None, max_seqlen_q=None, max_seqlen_k=None,
                           p_dropout=0.0, softmax_scale=-1.0, is_causal=True, *, strategy=0,
                           pipeline=0, split="contiguous"):
    """One rank's backward: dqkv in qkv's layout, from dout and what the forward returned
    (the arguments after rng_state are the forward's)."""
    args = Args(head_dim, group_query_ratio, multi_seq_lens, multi_cp_group, packing,
                cu_seqlens_q, cu_seqlens_k, max_seqlen_q, max_seqlen_k, p_dropout, softmax_scale,
                is_causal, False, strategy, pipeline, split)
    if is_torch(qkv):
        from . import _torch_ops
        return _torch_ops.backward(args, dout, qkv, out, softmax_lse, rng_state)
    return _call.backward(args, dout, qkv, out, softmax_lse, rng_state)


def emulate_ring(qkv, head_dim, group_query_ratio, multi_seq_lens, multi_cp_group,
                 packing=False, cu_seqlens_q=None, cu_seqlens_k=None, max_seqlen_q=None,
                 max_seqlen_k=None, p_dropout=0.0, softmax_scale=-1.0, is_causal=True,
                 return_softmax=False, *, strategy=0, pipeline=0, split="contiguous",
                 generator=None, on_step=None):
    """Every member of the ring of `pipeline` on the reference, in this process, as the
    distributed backend schedules it: one parallel_attn result list per member, in ring order.

    qkv is a list of host arrays, one per member in ring order (pipelines with equal
    multi_cp_group[strategy] ids, by increasing index); packed rings take the (n, P + 1)
    cu_seqlens table every member shares. on_step(member, step, kv_member, out_partial,
    lse_partial) is called after member `member` attended to the K/V block of member
    `kv_member` at ring step `step`, with fp32 copies of that partial (normalised out, and lse
    with -inf where a row saw no key). No autograd: use emulate_ring_backward.
    """
    args = Args(head_dim, group_query_ratio, multi_seq_lens, multi_cp_group, packing,
                cu_seqlens_q, cu_seqlens_k, max_seqlen_q, max_seqlen_k, p_dropout, softmax_scale,
                is_causal, return_softmax, strategy, pipeline, split)
    seed, offset = _generator.state_of(generator)
    results, new_offset = _call.emulated_forward(args, qkv, seed, offset, on_step)
    _generator.advance(generator, new_offset)
    return [list(r[:3]) + ([r[3]] if return_softmax else []) for r in results]


def emulate_ring_backward(dout, qkv, out, softmax_lse, rng_state, head_dim, group_query_ratio,
                          multi_seq_lens, multi_cp_group, packing=False, cu_seqlens_q=None,
                          cu_seqlens_k=None, max_seqlen_q=None, max_seqlen_k=None,
                          p_dropout=0.0, softmax_scale=-1.0, is_causal=True, *, strategy=0,
                          pipeline=0, split="contiguous"):
    """The backward of every member of the ring of `pipeline`: a list of dqkv in ring order.
    dout, qkv, out and softmax_lse are lists in ring order; rng_state one [seed, offset] or a
    list of them (the forward's, all equal)."""
    args = Args(head_dim, group_query_ratio, multi_seq_lens, multi_cp_group, packing,
                cu_seqlens_q, cu_seqlens_k, max_seqlen_q, max_seqlen_k, p_dropout, softmax_scale,
                is_causal, False, strategy, pipeline, split)
    return _call.emulated_backward(args, dout, qkv, out, softmax_lse, rng_state)

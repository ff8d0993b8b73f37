"""my_kernels.py: stands in for an attention kernel built outside this project. A plain numpy
float32 forward on dense batches (causal bottom-right or full attention, grouped-query heads),
whose output is rounded to the op dtype as a real kernel's would be."""
import numpy as np


def my_attention(qkv, head_dim, group_query_ratio, seq_len, causal):
    """qkv (B * L, (Hq + 2 Hkv) D) -> out (B * L, Hq D) and lse (B, Hq, L), in float32."""
    rows, cols = qkv.shape
    hkv = cols // head_dim // (group_query_ratio + 2)
    hq = group_query_ratio * hkv
    x = np.asarray(qkv, np.float32).reshape(rows // seq_len, seq_len, hq + 2 * hkv, head_dim)
    q = x[:, :, :hq]
    k = np.repeat(x[:, :, hq:hq + hkv], group_query_ratio, axis=2)
    v = np.repeat(x[:, :, hq + hkv:], group_query_ratio, axis=2)
    scores = np.einsum("blhd,bmhd->bhlm", q, k) / np.float32(np.sqrt(head_dim))
    if causal:
        scores = np.where(np.tril(np.ones((seq_len, seq_len), bool)), scores, -np.inf)
    top = scores.max(axis=-1, keepdims=True)
    weights = np.exp(scores - top)
    total = weights.sum(axis=-1, keepdims=True)
    out = np.einsum("bhlm,bmhd->blhd", weights / total, v).reshape(rows, hq * head_dim)
    return out, (top + np.log(total))[..., 0]

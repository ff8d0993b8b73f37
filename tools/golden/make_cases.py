#!/usr/bin/env python3
"""Write the golden cases of data/ (SPEC section 6) from the float64 numpy oracle.

Every case draws its inputs from a numpy generator seeded by the case name, rounds them to
the case dtype (float32 arrays holding fp16/bf16-representable values), computes the expected
arrays with oracle.py, measures the error of a naive same-dtype implementation against them
(naive.py: FlashAttention's yardstick, written to case.txt as naive_err_out / naive_err_dqkv)
and writes case.txt + .npy files; data/README.md lists the cases. Reruns are byte-identical with the same numpy (float64 arrays may move by an ulp between numpy versions; python/tests/test_case_io.py checks both).

  python3 tools/golden/make_cases.py [--out DIR]     (default: the repo's data/)
"""
import argparse
import os
import shutil
import sys
import zlib

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import case_io  # noqa: E402
import oracle  # noqa: E402
from case_io import round_to  # noqa: E402
from naive import naive_errors  # noqa: E402

SOURCE = "numpy float64 oracle (tools/golden/oracle.py)"
REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
SEED_HI = 2 ** 40 + 12345           # a seed with high 32 bits set
OFFSET_HI = 2 ** 32 + 7 * 32        # an offset above 2^32


# ------------------------------------------------------------------ case specs

def spec(name, desc, **kw):
    """A case spec with defaults: single rank, fp32, D=32, Hkv=2, r=1, causal, L=48, B=1.

    Packing without a ring: q_lens/k_lens (per-sequence lengths).  Packing with a ring:
    pieces[k] = member k's per-sequence lengths.  check: pipelines with expected arrays
    (default: all pipelines of the active strategy).  extra: more case.txt keys (tolerances).
    expected: the dtype of the expected arrays (float64; float32 keeps the long cases small).
    """
    s = dict(name=name, desc=desc, dtype="fp32", head_dim=32, hkv=2, group_query_ratio=1,
             seq_lens=[[48]], cp_groups=[[0]], strategy=0, split="contiguous", packing=0,
             is_causal=1, return_softmax=0, p_dropout=0.0, softmax_scale=-1.0, backward=0,
             batch=1, check=None, max_slack=0, extra={}, expected=np.float64)
    s.update(kw)
    if "pieces" in s:
        s["seq_lens"] = [[sum(x) for x in s["pieces"]]]
        s["cp_groups"] = [[0] * len(s["pieces"])]
        s["packing"] = 1
    elif "q_lens" in s:
        s["seq_lens"] = [[sum(s["q_lens"])]]
        s["packing"] = 1
    crc = zlib.crc32(name.encode())
    s.setdefault("rng_seed", crc % 1000003)
    s.setdefault("rng_offset", 32 * (crc % 11))
    return s


SINGLE = [
    spec("mha_causal_fp32", "MHA causal fp32, L=64", seq_lens=[[64]]),
    spec("mha_full_fp32", "MHA full attention fp32, L=48", is_causal=0),
    spec("mha_causal_fp16", "MHA causal fp16, L=50, D=40, Hq=2", dtype="fp16", seq_lens=[[50]],
         head_dim=40),
    spec("mha_full_fp16", "MHA full fp16, L=37", dtype="fp16", is_causal=0, seq_lens=[[37]]),
    spec("mha_causal_bf16", "MHA causal bf16, L=45, Hq=3, D=16", dtype="bf16", hkv=3, head_dim=16,
         seq_lens=[[45]]),
    spec("mha_full_bf16", "MHA full bf16, L=40", dtype="bf16", is_causal=0, seq_lens=[[40]]),
    spec("gqa2_causal_fp16", "GQA r=2 causal fp16, Hkv=2 (Hq=4), L=40, D=16", dtype="fp16",
         group_query_ratio=2, head_dim=16, seq_lens=[[40]]),
    spec("gqa2_full_bf16", "GQA r=2 full bf16, Hkv=1, L=36", dtype="bf16", group_query_ratio=2,
         hkv=1, is_causal=0, seq_lens=[[36]]),
    spec("gqa4_causal_fp32", "GQA r=4 causal fp32, Hkv=1 (Hq=4), L=33, D=16", group_query_ratio=4,
         hkv=1, head_dim=16, seq_lens=[[33]]),
    spec("gqa4_full_fp16", "GQA r=4 full fp16, Hkv=2 (Hq=8), L=24, D=8", dtype="fp16",
         group_query_ratio=4, head_dim=8, is_causal=0, seq_lens=[[24]]),
    spec("scale_custom_fp32", "softmax_scale = 0.4 (not 1/sqrt(D)), causal fp32", softmax_scale=0.4),
    spec("scale_custom_bf16", "softmax_scale = 0.09, full bf16, D=64", dtype="bf16",
         softmax_scale=0.09, head_dim=64, hkv=1, is_causal=0, seq_lens=[[30]]),
    spec("hd8_fp32", "head_dim 8, causal fp32, L=70, Hq=4", head_dim=8, hkv=4, seq_lens=[[70]]),
    spec("hd72_bf16", "head_dim 72, causal bf16, L=29", dtype="bf16", head_dim=72, hkv=1,
         seq_lens=[[29]]),
    spec("hd136_fp16", "head_dim 136, full fp16, L=19", dtype="fp16", head_dim=136, hkv=1,
         is_causal=0, seq_lens=[[19]]),
    spec("hd256_fp32", "head_dim 256, causal fp32, L=9", head_dim=256, hkv=1, seq_lens=[[9]]),
    spec("hd256_bf16", "head_dim 256, GQA r=2 full bf16, L=7", dtype="bf16", head_dim=256, hkv=1,
         group_query_ratio=2, is_causal=0, seq_lens=[[7]]),
    spec("len1_batch3_fp32", "L=1 with B=3 (each token sees only itself), causal fp32",
         seq_lens=[[1]], batch=3),
    spec("batch3_fp16", "B=3, L=21, causal fp16", dtype="fp16", seq_lens=[[21]], batch=3, hkv=1),
    spec("batch2_full_bf16", "B=2, L=26, full bf16, GQA r=2", dtype="bf16", seq_lens=[[26]],
         batch=2, group_query_ratio=2, hkv=1, is_causal=0),
    spec("packed_same_causal_fp16", "packed, cu_q == cu_k, lengths 13,0,29,7 (empty sequence), "
         "causal fp16", dtype="fp16", q_lens=[13, 0, 29, 7], k_lens=[13, 0, 29, 7]),
    spec("packed_diff_causal_fp32", "packed, cu_q != cu_k causal fp32: Nq>Nk (rows without key: "
         "out 0, lse -inf), Nq<Nk, Nq=0, Nk=0; max_seqlen larger than needed",
         q_lens=[10, 6, 0, 20, 5, 3], k_lens=[4, 6, 3, 25, 6, 0], max_slack=5),
    spec("packed_diff_full_bf16", "packed, cu_q != cu_k, full attention bf16, GQA r=2 "
         "(a sequence with Nk=0 gives lse -inf)", dtype="bf16", group_query_ratio=2, hkv=1,
         is_causal=0, q_lens=[10, 6, 0, 20, 5, 3], k_lens=[4, 6, 3, 25, 6, 0]),
    spec("packed_same_full_fp32", "packed, cu_q == cu_k, full attention fp32, lengths 17,40,1",
         is_causal=0, q_lens=[17, 40, 1], k_lens=[17, 40, 1], hkv=1),
    spec("dropout017_causal_fp16", "dropout p=0.17 causal fp16, seed > 2^32, L=45 (tiles 16x32 "
         "crossed)", dtype="fp16", p_dropout=0.17, rng_seed=SEED_HI, seq_lens=[[45]]),
    spec("dropout05_full_bf16", "dropout p=0.5 full bf16, offset > 2^32, L=40", dtype="bf16",
         p_dropout=0.5, is_causal=0, rng_offset=OFFSET_HI, seq_lens=[[40]]),
    spec("dropout017_gqa_fp32", "dropout p=0.17 GQA r=2 causal fp32, B=2 (mask depends on b), "
         "L=35", p_dropout=0.17, group_query_ratio=2, batch=2, seq_lens=[[35]], head_dim=16),
    spec("dropout05_packed_fp16", "dropout p=0.5 packed cu_q != cu_k causal fp16, seed > 2^32 and "
         "offset > 2^32 (b = packed sequence index)", dtype="fp16", p_dropout=0.5,
         rng_seed=SEED_HI + 1, rng_offset=OFFSET_HI, q_lens=[20, 3, 34], k_lens=[12, 9, 36]),
    spec("softmax_nodrop_fp32", "return_softmax without dropout, causal fp32, L=37",
         return_softmax=1, seq_lens=[[37]], hkv=1),
    spec("softmax_dropout_fp16", "return_softmax with dropout p=0.17 full fp16, B=2 (dropped "
         "entries negative)", dtype="fp16", return_softmax=1, p_dropout=0.17, is_causal=0,
         batch=2, hkv=1, seq_lens=[[33]]),
    spec("softmax_packed_dropout_bf16", "return_softmax, packed cu_q != cu_k, dropout p=0.5 causal "
         "bf16 (rows without key all +0)", dtype="bf16", return_softmax=1, p_dropout=0.5, hkv=1,
         q_lens=[9, 30, 4], k_lens=[3, 34, 6]),
    spec("softmax_sharp_dropout_fp32", "return_softmax, dropout p=0.5, softmax_scale=60 so some "
         "kept and dropped probabilities are exactly 0 (dropped zero = -0.0); lse ~ 500 so "
         "atol_lse = 1e-3", return_softmax=1, p_dropout=0.5, softmax_scale=60.0, head_dim=8,
         hkv=1, is_causal=0, seq_lens=[[24]], extra={"atol_lse": "1e-3"}),
    spec("multi_strategy_s0", "two strategies (40,40 ; 80), active strategy 0: two rings of size 1",
         seq_lens=[[40, 40], [80]], cp_groups=[[0, 1], [0]], dtype="fp16", hkv=1),
    spec("multi_strategy_s1", "two strategies (40,40 ; 80), active strategy 1: one pipeline, L=80",
         seq_lens=[[40, 40], [80]], cp_groups=[[0, 1], [0]], strategy=1, dtype="bf16", hkv=1),
]

RING = [
    spec("ring2_contig_fp32", "ring n=2 contiguous, even 40+40, causal fp32, D=16",
         seq_lens=[[40, 40]], cp_groups=[[0, 0]], head_dim=16),
    spec("ring2_sym_fp16", "ring n=2 sym, uneven odd 33+47, causal fp16", dtype="fp16",
         seq_lens=[[33, 47]], cp_groups=[[0, 0]], split="sym", hkv=1),
    spec("ring3_contig_bf16", "ring n=3 contiguous, uneven 20+35+25, causal bf16", dtype="bf16",
         seq_lens=[[20, 35, 25]], cp_groups=[[0, 0, 0]], hkv=1),
    spec("ring3_sym_fp32", "ring n=3 sym, uneven odd 17+30+21, causal fp32",
         seq_lens=[[17, 30, 21]], cp_groups=[[0, 0, 0]], split="sym", hkv=1),
    spec("ring4_sym_fp16", "ring n=4 sym, 16 each, B=2, causal fp16", dtype="fp16",
         seq_lens=[[16, 16, 16, 16]], cp_groups=[[0] * 4], split="sym", batch=2, hkv=1, head_dim=16),
    spec("ring4_contig_fp32", "ring n=4 contiguous, uneven 9+24+13+30, causal fp32",
         seq_lens=[[9, 24, 13, 30]], cp_groups=[[0] * 4], hkv=1),
    spec("ring_multi_sym_bf16", "three rings in one strategy (cp_groups 0,0,0,1,1,2,2,2), sym; "
         "checks rings 0 and 2 only", dtype="bf16", hkv=1,
         seq_lens=[[20, 18, 23, 30, 30, 15, 25, 17]], cp_groups=[[0, 0, 0, 1, 1, 2, 2, 2]],
         split="sym", check=[0, 1, 2, 5, 6, 7]),
    spec("ring_strategy1_fp16", "active strategy 1 of three (24x4 ; 40,56 ; 96): ring n=2 sym "
         "uneven", dtype="fp16", seq_lens=[[24, 24, 24, 24], [40, 56], [96]],
         cp_groups=[[0, 1, 2, 3], [0, 0], [0]], strategy=1, split="sym", hkv=1),
    spec("ring_packed_sym_fp32", "packed ring n=3 sym: 4 sequences, pieces with 0 and 1 tokens, "
         "causal fp32", pieces=[[9, 0, 11, 1], [12, 1, 14, 0], [10, 1, 13, 1]], split="sym",
         hkv=1),
    spec("ring_packed_contig_bf16", "packed ring n=2 contiguous, GQA r=2, causal bf16",
         dtype="bf16", pieces=[[30, 7, 12], [26, 9, 3]], group_query_ratio=2, hkv=1, head_dim=16),
    spec("ring_dropout_sym_fp16", "ring n=3 sym, dropout p=0.17, seed > 2^32, offset > 2^32, B=2, "
         "30+37+33 (global positions across tiles), D=16", dtype="fp16",
         seq_lens=[[30, 37, 33]], cp_groups=[[0] * 3], split="sym", p_dropout=0.17,
         rng_seed=SEED_HI + 2, rng_offset=OFFSET_HI, batch=2, hkv=1, head_dim=16),
    spec("ring_dropout_contig_bf16", "ring n=2 contiguous, dropout p=0.5, GQA r=2, bf16",
         dtype="bf16", seq_lens=[[27, 38]], cp_groups=[[0, 0]], p_dropout=0.5,
         group_query_ratio=2, hkv=1),
    spec("ring_full_contig_fp32", "ring n=3 contiguous, full attention, fp32",
         seq_lens=[[21, 16, 27]], cp_groups=[[0] * 3], is_causal=0, hkv=1),
    spec("ring_full_sym_fp16", "ring n=2 sym, full attention, fp16", dtype="fp16",
         seq_lens=[[25, 30]], cp_groups=[[0, 0]], split="sym", is_causal=0, hkv=1),
    spec("ring_gqa_sym_bf16", "ring n=2 sym, GQA r=4 (K/V travel with Hkv=1), causal bf16",
         dtype="bf16", seq_lens=[[36, 29]], cp_groups=[[0, 0]], split="sym",
         group_query_ratio=4, hkv=1, head_dim=16),
    spec("ring_softmax_sym_fp32", "ring n=2 sym, return_softmax with dropout p=0.5 (columns = "
         "global key positions)", seq_lens=[[21, 26]], cp_groups=[[0, 0]], split="sym",
         return_softmax=1, p_dropout=0.5, hkv=1),
    spec("ring_softmax_packed_fp16", "packed ring n=2 sym, return_softmax without dropout",
         dtype="fp16", pieces=[[8, 15], [11, 6]], split="sym", return_softmax=1, hkv=1),
]

BACKWARD = [
    spec("bwd_mha_causal_fp32", "backward MHA causal fp32, L=40, Hq=2, D=16", backward=1,
         seq_lens=[[40]], head_dim=16),
    spec("bwd_mha_full_fp16", "backward MHA full fp16, B=2, L=23", backward=1, dtype="fp16",
         is_causal=0, batch=2, seq_lens=[[23]], hkv=1),
    spec("bwd_gqa_causal_bf16", "backward GQA r=2 causal bf16, L=33", backward=1, dtype="bf16",
         group_query_ratio=2, hkv=1, seq_lens=[[33]]),
    spec("bwd_gqa4_full_fp32", "backward GQA r=4 full fp32, D=16, L=30", backward=1,
         group_query_ratio=4, hkv=1, head_dim=16, is_causal=0, seq_lens=[[30]]),
    spec("bwd_dropout_causal_fp16", "backward dropout p=0.17 causal fp16, GQA r=2, seed > 2^32",
         backward=1, dtype="fp16", p_dropout=0.17, rng_seed=SEED_HI + 3, group_query_ratio=2,
         hkv=1, seq_lens=[[38]], head_dim=16),
    spec("bwd_packed_diff_fp32", "backward packed cu_q != cu_k causal fp32 (incl. Nq>Nk, Nk=0)",
         backward=1, hkv=1, q_lens=[10, 6, 20, 3], k_lens=[4, 9, 26, 0]),
    spec("bwd_packed_same_full_bf16", "backward packed cu_q == cu_k full bf16", backward=1,
         dtype="bf16", is_causal=0, hkv=1, q_lens=[19, 0, 24], k_lens=[19, 0, 24]),
    spec("bwd_packed_dropout_fp16", "backward packed cu_q != cu_k, dropout p=0.5 causal fp16",
         backward=1, dtype="fp16", p_dropout=0.5, hkv=1, rng_offset=OFFSET_HI,
         q_lens=[14, 22], k_lens=[18, 18]),
    spec("bwd_ring_contig_fp32", "backward ring n=3 contiguous uneven, causal fp32", backward=1,
         seq_lens=[[14, 20, 11]], cp_groups=[[0] * 3], hkv=1),
    spec("bwd_ring_sym_fp16", "backward ring n=2 sym uneven odd, GQA r=2, causal fp16",
         backward=1, dtype="fp16", seq_lens=[[19, 26]], cp_groups=[[0, 0]], split="sym",
         group_query_ratio=2, hkv=1, head_dim=16),
    spec("bwd_ring_packed_sym_fp32", "backward packed ring n=2 sym, causal fp32", backward=1,
         pieces=[[10, 3, 15], [13, 2, 9]], split="sym", hkv=1, head_dim=16),
    spec("bwd_ring_dropout_sym_bf16", "backward ring n=3 sym, dropout p=0.5, offset > 2^32, "
         "bf16", backward=1, dtype="bf16", seq_lens=[[17, 24, 20]], cp_groups=[[0] * 3],
         split="sym", p_dropout=0.5, rng_offset=OFFSET_HI, hkv=1, head_dim=16),
    spec("bwd_ring_full_contig_bf16", "backward ring n=2 contiguous, full attention bf16",
         backward=1, dtype="bf16", seq_lens=[[16, 21]], cp_groups=[[0, 0]], is_causal=0, hkv=1),
]

# Backward with grouped-query attention where both r >= 2 and Hkv >= 2 (r = 2, Hkv = 2, Hq = 4):
# a dQ pass that reads the wrong KV head, or dK/dV summed over the wrong query heads, differs.
GQA_BACKWARD = [
    spec("bwd_gqa2_hkv2_causal_fp32", "backward GQA r=2 with Hkv=2 (Hq=4), B=2, L=21, causal "
         "fp32", backward=1, group_query_ratio=2, hkv=2, head_dim=16, batch=2, seq_lens=[[21]]),
    spec("bwd_gqa2_hkv2_dropout_bf16", "backward GQA r=2 Hkv=2, B=2, L=25, dropout p=0.17, "
         "causal bf16", backward=1, dtype="bf16", group_query_ratio=2, hkv=2, head_dim=16,
         batch=2, seq_lens=[[25]], p_dropout=0.17, rng_seed=SEED_HI + 4),
    spec("bwd_packed_gqa2_hkv2_fp32", "backward packed GQA r=2 Hkv=2, cu_q != cu_k (rows 0-4 "
         "see no key), causal fp32", backward=1, group_query_ratio=2, hkv=2, head_dim=16,
         q_lens=[9, 5, 14], k_lens=[4, 7, 17]),
    spec("bwd_packed_gqa2_hkv2_dropout_bf16", "backward packed GQA r=2 Hkv=2, cu_q != cu_k (rows "
         "0-6 see no key), dropout p=0.2, causal bf16", backward=1, dtype="bf16",
         group_query_ratio=2, hkv=2, head_dim=16, q_lens=[12, 3, 10], k_lens=[5, 9, 11],
         p_dropout=0.2, rng_offset=OFFSET_HI),
    spec("bwd_ring_gqa2_hkv2_sym_fp32", "backward ring n=2 sym uneven 19+26, GQA r=2 Hkv=2, "
         "causal fp32", backward=1, group_query_ratio=2, hkv=2, head_dim=16,
         seq_lens=[[19, 26]], cp_groups=[[0, 0]], split="sym"),
    spec("bwd_ring_gqa2_hkv2_dropout_bf16", "backward ring n=3 contiguous 14+20+17, GQA r=2 "
         "Hkv=2, dropout p=0.17, causal bf16", backward=1, dtype="bf16", group_query_ratio=2,
         hkv=2, head_dim=16, seq_lens=[[14, 20, 17]], cp_groups=[[0] * 3], p_dropout=0.17,
         rng_seed=SEED_HI + 5),
]

# Rings whose members hold several hundred tokens, so that every member has several K/V tiles
# of a 128-key kernel (the GPU's main loop past its first, masked tile); small head dims and
# one head keep the files small, and the expected arrays are float32.
LONG_RING = [
    spec("ring_long_contig_fp16", "long ring n=2 contiguous uneven 450+300, D=32, causal fp16",
         dtype="fp16", seq_lens=[[450, 300]], cp_groups=[[0, 0]], hkv=1, head_dim=32,
         expected=np.float32),
    spec("ring_long_packed_sym_dropout_bf16", "long packed ring n=2 sym, pieces 530,3,260 and "
         "610,1,190, dropout p=0.1, causal bf16, D=16", dtype="bf16",
         pieces=[[530, 3, 260], [610, 1, 190]], split="sym", hkv=1, head_dim=16, p_dropout=0.1,
         rng_seed=SEED_HI + 6, rng_offset=OFFSET_HI, expected=np.float32),
    spec("bwd_ring_long_sym_dropout_bf16", "backward long ring n=3 sym uneven 300+520+410, "
         "dropout p=0.17, causal bf16, D=16", backward=1, dtype="bf16",
         seq_lens=[[300, 520, 410]], cp_groups=[[0] * 3], split="sym", hkv=1, head_dim=16,
         p_dropout=0.17, rng_seed=SEED_HI + 7, expected=np.float32),
    spec("bwd_ring_long_packed_contig_fp16", "backward long packed ring n=2 contiguous, pieces "
         "310,140 and 260,190, causal fp16, D=16", backward=1, dtype="fp16",
         pieces=[[310, 140], [260, 190]], hkv=1, head_dim=16, expected=np.float32),
]

CASES = SINGLE + RING + BACKWARD + GQA_BACKWARD + LONG_RING


# ------------------------------------------------------------------ building a case

def cumulative(lengths):
    return np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)


def build(s):
    """Inputs (rounded to the dtype), case dict for the oracle, case.txt keys."""
    rng = np.random.default_rng(zlib.crc32(s["name"].encode()))
    d, r, hkv = s["head_dim"], s["group_query_ratio"], s["hkv"]
    hq = r * hkv
    groups = s["cp_groups"][s["strategy"]]
    lens = s["seq_lens"][s["strategy"]]
    check = s["check"] if s["check"] is not None else list(range(len(groups)))
    case = {k: s[k] for k in case_io.DEFAULTS}
    case.update(head_dim=d, seq_lens=s["seq_lens"], cp_groups=s["cp_groups"],
                qkv={}, dout={}, cu_seqlens_q={}, cu_seqlens_k={})
    keys = {}
    if "pieces" in s:
        cu = np.stack([cumulative(x) for x in s["pieces"]])
        keys["max_seqlen_q"] = int(max(max(x) for x in s["pieces"]))
        keys["max_seqlen_k"] = int(max(np.sum(s["pieces"], axis=0)))
    elif "q_lens" in s:
        keys["max_seqlen_q"] = max(s["q_lens"]) + s["max_slack"]
        keys["max_seqlen_k"] = max(s["k_lens"]) + s["max_slack"]
    for p in check:
        rows = lens[p] * (1 if s["packing"] else s["batch"])
        q_k = rng.standard_normal((rows, (hq + hkv) * d))
        v = 0.75 * rng.standard_normal((rows, hkv * d))
        case["qkv"][p] = round_to(np.concatenate([q_k, v], axis=1), s["dtype"])
        if s["backward"]:
            case["dout"][p] = round_to(0.5 * rng.standard_normal((rows, hq * d)), s["dtype"])
        if "pieces" in s:
            case["cu_seqlens_q"][p] = case["cu_seqlens_k"][p] = cu
        elif "q_lens" in s:
            case["cu_seqlens_q"][p] = cumulative(s["q_lens"])
            case["cu_seqlens_k"][p] = cumulative(s["k_lens"])
    if not s["backward"]:
        del case["dout"]
    return case, keys, check


def case_text(s, keys, source=SOURCE, writer="make_cases.py", naive=None):
    lines = ["# %s: %s" % (s["name"], s["desc"]),
             "# written by tools/golden/%s; regenerate, do not edit" % writer,
             "dtype = %s" % s["dtype"],
             "head_dim = %d" % s["head_dim"],
             "group_query_ratio = %d" % s["group_query_ratio"],
             "seq_lens = %s" % case_io.format_lists(s["seq_lens"]),
             "cp_groups = %s" % case_io.format_lists(s["cp_groups"]),
             "strategy = %d" % s["strategy"],
             "split = %s" % s["split"],
             "packing = %d" % s["packing"],
             "is_causal = %d" % s["is_causal"],
             "return_softmax = %d" % s["return_softmax"],
             "p_dropout = %r" % float(s["p_dropout"]),
             "softmax_scale = %r" % float(s["softmax_scale"]),
             "rng_seed = %d" % s["rng_seed"],
             "rng_offset = %d" % s["rng_offset"],
             "backward = %d" % s["backward"]]
    lines += ["%s = %d" % kv for kv in sorted(keys.items())]
    lines += ["%s = %s" % kv for kv in sorted(s["extra"].items())]
    lines += ["naive_err_%s = %.6e" % kv for kv in sorted((naive or {}).items())]
    lines.append("source = %s" % source)
    return "\n".join(lines) + "\n"


def case_description(folder):
    """The '# name: description' first line of a case.txt, without the name."""
    with open(os.path.join(folder, "case.txt")) as f:
        first = f.readline()
    return first.split(":", 1)[1].strip() if first.startswith("#") and ":" in first else ""


def save(folder, name, array, dtype):
    np.save(os.path.join(folder, name), np.ascontiguousarray(array, dtype=np.dtype(dtype).newbyteorder("<")))


def write_case(s, root):
    case, keys, check = build(s)
    expected = oracle.compute(case)
    naive = naive_errors(case, {p: expected[p] for p in check}, s["dtype"])
    folder = os.path.join(root, s["name"])
    if os.path.isdir(folder):
        shutil.rmtree(folder)
    os.makedirs(folder)
    with open(os.path.join(folder, "case.txt"), "w") as f:
        f.write(case_text(s, keys, naive=naive))
    for p in check:
        save(folder, "qkv.%d.npy" % p, case["qkv"][p], np.float32)
        if s["packing"]:
            save(folder, "cu_seqlens_q.%d.npy" % p, case["cu_seqlens_q"][p], np.int32)
            save(folder, "cu_seqlens_k.%d.npy" % p, case["cu_seqlens_k"][p], np.int32)
        if s["backward"]:
            save(folder, "dout.%d.npy" % p, case["dout"][p], np.float32)
        for name, array in expected[p].items():
            save(folder, "%s.%d.npy" % (name, p), array,
                 np.int64 if name == "rng_state" else s["expected"])
    return folder


def readme(cases, root):
    lines = ["# Golden cases", "",
             "Each folder is one case in the format of [FORMAT.md](FORMAT.md) (`case.txt` + `.npy`).",
             "Expected arrays come from the float64 numpy oracle `tools/golden/oracle.py`, written",
             "from the SPEC alone; dropout masks from `tools/golden/fa2_dropout_model.py`",
             "(FlashAttention-2's mask, checked against PyTorch on an H100). Inputs are float32",
             "holding values exact in the case dtype; expected arrays are float64 (float32 for the",
             "long rings).",
             "`naive_err_out` and `naive_err_dqkv` in `case.txt` are the max abs errors of a naive",
             "same-dtype implementation against those arrays (`tools/golden/naive.py` documents the",
             "model): the conformance harness holds every backend to FlashAttention's rule, out",
             "within 2x and dqkv within 3x of them plus the dtype's rounding noise.", "",
             "Regenerate (byte-identical with the same numpy): `python3 tools/golden/make_cases.py`.",
             "Check the oracle: `python3 tools/golden/oracle.py --selftest`; recompute a case from",
             "its inputs: `python3 tools/golden/oracle.py --check data/<case>`.",
             "Cases whose name starts with `torch_` were made on an H100 with PyTorch 2.11 by",
             "`tools/golden/torch_cases.py`: expected out/lse/dqkv are float32 results of torch's",
             "FlashAttention-2 kernels (see each `source`). Regenerate them on a GPU machine with",
             "`python3 tools/golden/torch_cases.py --out /tmp/torch_golden && tar xzf",
             "/tmp/torch_golden.tar.gz -C data --strip-components=1`; make_cases.py keeps them.",
             "`nonfinite_nan_inf_bf16` is written by `tools/golden/make_nonfinite_case.py`.",
             "", "| case | covers |", "| --- | --- |"]
    lines += ["| `%s` | %s |" % (s["name"], s["desc"]) for s in cases]
    ours = {s["name"] for s in cases}
    other_folders = sorted(f for f in os.listdir(root) if f not in ours and
                           os.path.isfile(os.path.join(root, f, "case.txt")))
    lines += ["| `%s` | %s |" % (f, case_description(os.path.join(root, f))) for f in other_folders]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(REPO, "data"))
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    names = [s["name"] for s in CASES]
    assert len(names) == len(set(names)), "duplicate case names"
    total = 0
    for s in CASES:
        folder = write_case(s, args.out)
        size = sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder))
        total += size
        print("%-32s %7.1f KB" % (s["name"], size / 1024))
    with open(os.path.join(args.out, "README.md"), "w") as f:
        f.write(readme(CASES, args.out))
    print("%d cases (%d single rank, %d ring, %d backward, %d GQA backward, %d long ring), %.2f MB"
          % (len(CASES), len(SINGLE), len(RING), len(BACKWARD), len(GQA_BACKWARD), len(LONG_RING),
             total / 2 ** 20))


if __name__ == "__main__":
    main()

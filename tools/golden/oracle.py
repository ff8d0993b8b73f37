#!/usr/bin/env python3
"""Float64 numpy oracle for parallel_attn, written from SPEC.md alone (not from the C code).

A case is a dict with the keys of SPEC section 6 (dtype, head_dim, group_query_ratio, seq_lens,
cp_groups, strategy, split, packing, is_causal, return_softmax, p_dropout, softmax_scale,
rng_seed, rng_offset, backward) and per-pipeline input arrays: case["qkv"][p],
case["cu_seqlens_q"][p], case["cu_seqlens_k"][p], case["dout"][p].  compute(case) returns, per
pipeline whose ring is complete in the case, the expected out, lse, rng_state, softmax and dqkv.

Method: every ring's global sequence (per sample or packed sequence) is rebuilt from the
members' shards with the split pattern, attention is computed on it in float64, and the
results are scattered back to each member's local rows.

  python3 oracle.py --selftest      finite-difference and blockwise-ring checks of the oracle
  python3 oracle.py --check DIR...  recompute case folders from their inputs and compare
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fa2_dropout_model  # noqa: E402  (FlashAttention-2's dropout mask, beside this file)
from case_io import DEFAULTS, read_case  # noqa: E402,F401  (read_case: oracle.read_case)


# ------------------------------------------------------------------ the dropout model

def model_keep_fn(seed, offset, nheads, p):
    """keep(b, h, rows, cols) -> bool matrix, FlashAttention-2's mask at global positions."""
    def keep(b, h, rows, cols):
        if len(rows) == 0 or len(cols) == 0:
            return np.ones((len(rows), len(cols)), bool)
        return fa2_dropout_model.keep_mask(seed, offset, b, h, nheads, rows, cols, p)
    return keep


# ------------------------------------------------------------------ layout

def global_positions(lengths, k, split):
    """Global positions of member k's local tokens, for members' local lengths `lengths`."""
    length = lengths[k]
    x = np.arange(length, dtype=np.int64)
    if split == "contiguous":
        return sum(lengths[:k]) + x
    if split != "sym":
        raise ValueError("split must be contiguous or sym, got %r" % split)
    heads = [n // 2 for n in lengths]
    tails = [n - n // 2 for n in lengths]
    total = sum(lengths)
    return np.where(x < heads[k], sum(heads[:k]) + x, total - sum(tails[:k]) - (length - x))


def rings_of(case):
    """Rings of the active strategy whose members all have qkv in the case: lists of pipelines."""
    groups = case["cp_groups"][case["strategy"]]
    have = set(case["qkv"])
    rings = []
    for gid in sorted(set(groups)):
        members = [p for p, g in enumerate(groups) if g == gid]
        present = [p for p in members if p in have]
        if present and len(present) != len(members):
            raise ValueError("ring %d: qkv given for %s but not all of %s" % (gid, present, members))
        if present:
            rings.append(members)
    return rings


def head_counts(case, qkv):
    d, r = case["head_dim"], case["group_query_ratio"]
    cols = qkv.shape[1]
    if cols % (d * (r + 2)):
        raise ValueError("qkv has %d columns, not a multiple of head_dim*(r+2)" % cols)
    hkv = cols // d // (r + 2)
    return r * hkv, hkv


class Piece:
    """Rows of one ring member that belong to one sequence, with their global positions."""

    def __init__(self, member, rows, positions):
        self.member, self.rows, self.positions = member, np.asarray(rows), np.asarray(positions)


class Unit:
    """One sequence (sample or packed sequence) of a ring: its query and key pieces."""

    def __init__(self, index, qpieces, kpieces):
        self.index, self.qpieces, self.kpieces = index, qpieces, kpieces
        self.nq = sum(len(pc.rows) for pc in qpieces)
        self.nk = sum(len(pc.rows) for pc in kpieces)


def ring_units(case, members):
    """The sequences of one ring, each with its per-member query and key pieces."""
    strategy_lens = case["seq_lens"][case["strategy"]]
    lens = [strategy_lens[p] for p in members]
    rows = [case["qkv"][p].shape[0] for p in members]
    n = len(members)
    if not case["packing"]:
        batches = {rows[k] // lens[k] for k in range(n) if lens[k]}
        if len(batches) != 1 or any(rows[k] != lens[k] * next(iter(batches)) for k in range(n)):
            raise ValueError("qkv rows %s do not match seq_lens %s with one batch size" % (rows, lens))
        batch = batches.pop()
        pos = [global_positions(lens, k, case["split"]) for k in range(n)]
        units = []
        for b in range(batch):
            pieces = [Piece(k, b * lens[k] + np.arange(lens[k]), pos[k]) for k in range(n)]
            units.append(Unit(b, pieces, pieces))
        return units
    for k in range(n):
        if rows[k] != lens[k]:
            raise ValueError("packed: qkv rows %d != seq_lens %d" % (rows[k], lens[k]))
    if n == 1:
        cu_q = np.asarray(case["cu_seqlens_q"][members[0]]).reshape(-1)
        cu_k = np.asarray(case["cu_seqlens_k"][members[0]]).reshape(-1)
        for name, cu in (("cu_seqlens_q", cu_q), ("cu_seqlens_k", cu_k)):
            if cu[0] != 0 or cu[-1] != rows[0] or np.any(np.diff(cu) < 0) or len(cu) != len(cu_q):
                raise ValueError("bad %s %s" % (name, cu))
        units = []
        for s in range(len(cu_q) - 1):
            q = Piece(0, np.arange(cu_q[s], cu_q[s + 1]), np.arange(cu_q[s + 1] - cu_q[s]))
            k = Piece(0, np.arange(cu_k[s], cu_k[s + 1]), np.arange(cu_k[s + 1] - cu_k[s]))
            units.append(Unit(s, [q], [k]))
        return units
    cu = np.asarray(case["cu_seqlens_q"][members[0]])
    for p in members:
        for name in ("cu_seqlens_q", "cu_seqlens_k"):
            if not np.array_equal(case[name][p], cu):
                raise ValueError("packed ring: %s of pipeline %d differs" % (name, p))
    if cu.shape[0] != n or np.any(cu[:, 0] != 0) or np.any(np.diff(cu, axis=1) < 0):
        raise ValueError("packed ring: cu_seqlens must be (n, P+1) cumulative, got %s" % (cu,))
    if any(cu[k, -1] != rows[k] for k in range(n)):
        raise ValueError("packed ring: cu_seqlens ends %s != rows %s" % (cu[:, -1], rows))
    units = []
    for s in range(cu.shape[1] - 1):
        piece_lens = [int(cu[k, s + 1] - cu[k, s]) for k in range(n)]
        pieces = [Piece(k, cu[k, s] + np.arange(piece_lens[k]),
                        global_positions(piece_lens, k, case["split"])) for k in range(n)]
        units.append(Unit(s, pieces, pieces))
    return units


# ------------------------------------------------------------------ attention on one sequence

def attention(q, k, v, causal, scale, keep=None, p=0.0, dout=None):
    """Exact attention of one sequence in float64.

    q (Nq, Hq, D), k and v (Nk, Hkv, D); query head h reads KV head h // r; causal is
    bottom-right.  keep: bool (Hq, Nq, Nk) dropout keep mask or None.  Returns a dict with
    out (Nq, Hq, D), lse (Hq, Nq), prob (Hq, Nq, Nk, before dropout), valid (Nq, Nk), and with
    dout given dq, dk, dv.
    """
    nq, hq, d = q.shape
    nk, hkv, _ = k.shape
    r = hq // hkv
    ke = np.repeat(k, r, axis=1)
    ve = np.repeat(v, r, axis=1)
    valid = np.ones((nq, nk), bool)
    if causal:
        valid = np.arange(nk)[None, :] <= np.arange(nq)[:, None] + (nk - nq)
    s = scale * np.einsum("ihd,jhd->hij", q, ke)
    s = np.where(valid[None], s, -np.inf)
    has_key = valid.any(axis=1)
    row_max = np.where(has_key[None], s.max(axis=2, initial=-np.inf), 0.0)
    e = np.where(valid[None], np.exp(s - row_max[:, :, None]), 0.0)
    total = e.sum(axis=2)
    with np.errstate(divide="ignore"):
        lse = np.where(has_key[None], row_max + np.log(np.where(has_key[None], total, 1.0)), -np.inf)
    prob = e / np.where(has_key[None], total, 1.0)[:, :, None]
    factor = np.ones_like(prob) if keep is None else keep / (1.0 - p)
    prob_dropped = prob * factor
    out = np.einsum("hij,jhd->ihd", prob_dropped, ve)
    result = {"out": out, "lse": lse, "prob": prob, "valid": valid}
    if dout is not None:
        dprob_dropped = np.einsum("ihd,jhd->hij", dout, ve)
        dve = np.einsum("hij,ihd->jhd", prob_dropped, dout)
        dprob = dprob_dropped * factor
        delta = np.einsum("ihd,ihd->hi", dout, out)
        ds = prob * (dprob - delta[:, :, None])
        result["dq"] = scale * np.einsum("hij,jhd->ihd", ds, ke)
        dke = scale * np.einsum("hij,ihd->jhd", ds, q)
        result["dk"] = dke.reshape(nk, hkv, r, d).sum(axis=2)
        result["dv"] = dve.reshape(nk, hkv, r, d).sum(axis=2)
    return result


# ------------------------------------------------------------------ the operator

def softmax_scale_of(case):
    scale = float(case["softmax_scale"])
    return 1.0 / np.sqrt(case["head_dim"]) if scale < 0 else scale


def rng_state_of(case):
    return np.array([case["rng_seed"], case["rng_offset"]], dtype=np.uint64).view(np.int64)


def compute(case, keep_fn=None, attend=attention):
    """Expected results per pipeline: {p: {"out", "lse", "rng_state"[, "softmax"][, "dqkv"]}}.

    keep_fn(b, h, rows, cols) -> bool mask overrides the FlashAttention-2 dropout model.
    attend replaces attention() for each sequence (naive.py's dtype model uses it).
    """
    case = dict(DEFAULTS, **case)
    d, p_drop = case["head_dim"], float(case["p_dropout"])
    scale = softmax_scale_of(case)
    any_qkv = next(iter(case["qkv"].values()))
    hq, hkv = head_counts(case, any_qkv)
    if p_drop > 0 and keep_fn is None:
        keep_fn = model_keep_fn(case["rng_seed"], case["rng_offset"], hq, p_drop)
    results = {}
    for members in rings_of(case):
        qkv = [np.asarray(case["qkv"][p], np.float64) for p in members]
        douts = [np.asarray(case["dout"][p], np.float64) for p in members] if case["backward"] else None
        units = ring_units(case, members)
        res = [{"out": np.full((x.shape[0], hq * d), np.nan),
                "lse_rows": np.full((hq, x.shape[0]), np.nan),
                "dqkv": np.zeros_like(x)} for x in qkv]
        lq_max = [max([len(pc.rows) for u in units for pc in u.qpieces if pc.member == k] + [0])
                  for k in range(len(members))]
        nk_max = max([u.nk for u in units] + [0])
        if case["return_softmax"]:
            for k, r in enumerate(res):
                r["softmax"] = np.zeros((len(units), hq, lq_max[k], nk_max))

        for u in units:
            q = np.zeros((u.nq, hq, d))
            kk = np.zeros((u.nk, hkv, d))
            vv = np.zeros((u.nk, hkv, d))
            do = np.zeros((u.nq, hq, d)) if douts else None
            for pc in u.qpieces:
                q[pc.positions] = qkv[pc.member][pc.rows, :hq * d].reshape(-1, hq, d)
                if douts:
                    do[pc.positions] = douts[pc.member][pc.rows].reshape(-1, hq, d)
            for pc in u.kpieces:
                kk[pc.positions] = qkv[pc.member][pc.rows, hq * d:(hq + hkv) * d].reshape(-1, hkv, d)
                vv[pc.positions] = qkv[pc.member][pc.rows, (hq + hkv) * d:].reshape(-1, hkv, d)
            keep = None
            if p_drop > 0:
                keep = np.stack([keep_fn(u.index, h, np.arange(u.nq), np.arange(u.nk))
                                 for h in range(hq)])
            a = attend(q, kk, vv, case["is_causal"], scale, keep, p_drop, do)
            for pc in u.qpieces:
                r = res[pc.member]
                r["out"][pc.rows] = a["out"][pc.positions].reshape(-1, hq * d)
                r["lse_rows"][:, pc.rows] = a["lse"][:, pc.positions]
                if douts:
                    r["dqkv"][pc.rows, :hq * d] += a["dq"][pc.positions].reshape(-1, hq * d)
                if case["return_softmax"]:
                    prob = a["prob"][:, pc.positions, :]
                    if keep is not None:
                        dropped = ~keep[:, pc.positions, :] & a["valid"][None, pc.positions, :]
                        prob = np.where(dropped, -prob, prob)
                    r["softmax"][u.index, :, :len(pc.rows), :u.nk] = prob
            if douts:
                for pc in u.kpieces:
                    r = res[pc.member]
                    r["dqkv"][pc.rows, hq * d:(hq + hkv) * d] += a["dk"][pc.positions].reshape(-1, hkv * d)
                    r["dqkv"][pc.rows, (hq + hkv) * d:] += a["dv"][pc.positions].reshape(-1, hkv * d)

        for k, p in enumerate(members):
            r = res[k]
            if np.isnan(r["out"]).any() or np.isnan(r["lse_rows"]).any():
                raise ValueError("pipeline %d: some rows belong to no sequence" % p)
            lse = r.pop("lse_rows")
            if not case["packing"]:
                length = case["seq_lens"][case["strategy"]][p]
                lse = lse.reshape(hq, -1, length).transpose(1, 0, 2).copy() if length else \
                    np.zeros((len(units), hq, 0))
            r["lse"] = lse
            r["rng_state"] = rng_state_of(case)
            if not case["backward"]:
                del r["dqkv"]
            results[p] = r
    return results


# ------------------------------------------------------------------ --check

def check_folders(folders):
    """Recompute each case folder from its inputs; print the max difference per array (after
    rounding the recomputed array to the stored one's dtype: float32 expected arrays hold the
    oracle's values rounded once)."""
    worst = 0.0
    for folder in folders:
        if not os.path.isfile(os.path.join(folder, "case.txt")):
            continue
        case, expected = read_case(folder)
        got = compute(case)
        for p, arrays in sorted(expected.items()):
            for name, want in sorted(arrays.items()):
                mine = got[p][name]
                if name != "rng_state":
                    mine = mine.astype(want.dtype).astype(np.float64)
                if name == "rng_state":
                    err = 0.0 if np.array_equal(mine, want) else np.inf
                else:
                    if mine.shape != want.shape:
                        err = np.inf
                    else:
                        same_inf = (mine == want)
                        with np.errstate(invalid="ignore"):
                            err = float(np.max(np.where(same_inf, 0.0, np.abs(mine - want)), initial=0))
                        if name == "softmax" and not np.array_equal(np.signbit(mine), np.signbit(want)):
                            err = np.inf
                worst = max(worst, err)
                print("%-40s %-10s %.3g" % (os.path.basename(folder.rstrip("/")), "%s.%d" % (name, p), err))
    print("worst", worst)
    return worst


# ------------------------------------------------------------------ --selftest

def _random_case(rng, **kw):
    """A tiny float64 case with random qkv/dout (and cu_seqlens from kw['pieces'])."""
    case = dict(DEFAULTS)
    case.update(kw)
    groups = case["cp_groups"][case["strategy"]]
    lens = case["seq_lens"][case["strategy"]]
    hq = case["group_query_ratio"] * case["hkv"]
    cols = (hq + 2 * case["hkv"]) * case["head_dim"]
    batch = case.get("batch", 1)
    case["qkv"], case["dout"], case["cu_seqlens_q"], case["cu_seqlens_k"] = {}, {}, {}, {}
    for p in range(len(groups)):
        rows = lens[p] if case["packing"] else batch * lens[p]
        case["qkv"][p] = rng.standard_normal((rows, cols))
        case["dout"][p] = rng.standard_normal((rows, hq * case["head_dim"]))
        if case["packing"]:
            case["cu_seqlens_q"][p] = case["cu_q"]
            case["cu_seqlens_k"][p] = case["cu_k"]
    return case


def _loss(case):
    res = compute(case)
    return sum(float(np.sum(res[p]["out"] * case["dout"][p])) for p in res)


def _finite_difference_error(case, step=1e-6):
    """Max |analytic dqkv - central finite difference| over every qkv element of every member."""
    case = dict(case, backward=1)
    grads = compute(case)
    worst, scale_ref = 0.0, 0.0
    for p in grads:
        x = case["qkv"][p]
        for idx in np.ndindex(*x.shape):
            keep = x[idx]
            x[idx] = keep + step
            up = _loss(case)
            x[idx] = keep - step
            down = _loss(case)
            x[idx] = keep
            fd = (up - down) / (2 * step)
            worst = max(worst, abs(fd - grads[p]["dqkv"][idx]))
            scale_ref = max(scale_ref, abs(fd))
    return worst, scale_ref


def _positions_by_listing(lengths, split):
    """Global position of each member's local token, built by laying tokens out one by one."""
    order = []  # order[g] = (member, local index)
    if split == "contiguous":
        for k, n in enumerate(lengths):
            order += [(k, x) for x in range(n)]
    else:
        for k, n in enumerate(lengths):
            order += [(k, x) for x in range(n // 2)]
        for k in reversed(range(len(lengths))):
            n = lengths[k]
            order += [(k, x) for x in range(n // 2, n)]
    pos = [np.zeros(n, np.int64) for n in lengths]
    for g, (k, x) in enumerate(order):
        pos[k][x] = g
    return pos


def _blockwise_ring(case):
    """Ring emulation: every (query member, key member) block separately, merged through the LSE.

    Independent of compute(): positions from _positions_by_listing, masks per block, online
    LSE merge, and a backward that uses the merged out/lse in every block.  Not packed only.
    """
    d, r = case["head_dim"], case["group_query_ratio"]
    hq, hkv = head_counts(case, case["qkv"][0])
    scale, p_drop = softmax_scale_of(case), case["p_dropout"]
    keep_fn = model_keep_fn(case["rng_seed"], case["rng_offset"], hq, p_drop) if p_drop else None
    members = rings_of(case)[0]
    lens = [case["seq_lens"][case["strategy"]][p] for p in members]
    pos = _positions_by_listing(lens, case["split"])
    batch = case["qkv"][members[0]].shape[0] // lens[0]
    out = {p: np.zeros((batch * lens[k], hq * d)) for k, p in enumerate(members)}
    lse = {p: np.full((batch, hq, lens[k]), -np.inf) for k, p in enumerate(members)}
    dqkv = {p: np.zeros_like(case["qkv"][p]) for p in members}

    def split_heads(p, b, k):
        x = case["qkv"][p][b * lens[k]:(b + 1) * lens[k]]
        q = x[:, :hq * d].reshape(-1, hq, d)
        kk = np.repeat(x[:, hq * d:(hq + hkv) * d].reshape(-1, hkv, d), r, axis=1)
        vv = np.repeat(x[:, (hq + hkv) * d:].reshape(-1, hkv, d), r, axis=1)
        return q, kk, vv

    def block(b, kq, km):
        q, _, _ = split_heads(members[kq], b, kq)
        _, kk, vv = split_heads(members[km], b, km)
        s = scale * np.einsum("ihd,jhd->hij", q, kk)
        mask = np.ones((len(pos[kq]), len(pos[km])), bool)
        if case["is_causal"]:
            mask = pos[km][None, :] <= pos[kq][:, None]
        fac = np.ones_like(s)
        if keep_fn:
            fac = np.stack([keep_fn(b, h, pos[kq], pos[km]) for h in range(hq)]) / (1 - p_drop)
        return q, kk, vv, np.where(mask[None], s, -np.inf), fac

    for b in range(batch):
        for kq, pq in enumerate(members):
            rows = slice(b * lens[kq], (b + 1) * lens[kq])
            o_acc = np.zeros((lens[kq], hq, d))
            l_acc = np.full((hq, lens[kq]), -np.inf)
            for km in range(len(members)):
                _, _, vv, s, fac = block(b, kq, km)
                m = s.max(axis=2, initial=-np.inf)
                m_safe = np.where(np.isfinite(m), m, 0.0)
                e = np.exp(s - m_safe[:, :, None])
                with np.errstate(divide="ignore"):
                    l_blk = np.log(e.sum(axis=2)) + m_safe
                o_blk = np.einsum("hij,jhd->ihd", e * fac, vv) / np.maximum(e.sum(axis=2), 1e-300).T[:, :, None]
                l_new = np.logaddexp(l_acc, l_blk)
                w_old = np.where(np.isfinite(l_new), np.exp(l_acc - np.where(np.isfinite(l_new), l_new, 0)), 0)
                w_blk = np.where(np.isfinite(l_new), np.exp(l_blk - np.where(np.isfinite(l_new), l_new, 0)), 0)
                o_acc = o_acc * w_old.T[:, :, None] + o_blk * w_blk.T[:, :, None]
                l_acc = l_new
            out[pq][rows] = o_acc.reshape(lens[kq], -1)
            lse[pq][b] = l_acc
        if not case["backward"]:
            continue
        for kq, pq in enumerate(members):
            rows_q = slice(b * lens[kq], (b + 1) * lens[kq])
            o = out[pq][rows_q].reshape(-1, hq, d)
            do = case["dout"][pq][rows_q].reshape(-1, hq, d)
            l_fin = lse[pq][b]
            delta = np.einsum("ihd,ihd->hi", do, o)
            for km, pk in enumerate(members):
                rows_k = slice(b * lens[km], (b + 1) * lens[km])
                q, kk, vv, s, fac = block(b, kq, km)
                prob = np.where(np.isfinite(s), np.exp(s - np.where(np.isfinite(l_fin), l_fin, 0)[:, :, None]), 0)
                dp = np.einsum("ihd,jhd->hij", do, vv) * fac
                ds = prob * (dp - delta[:, :, None])
                dqkv[pq][rows_q, :hq * d] += scale * np.einsum("hij,jhd->ihd", ds, kk).reshape(lens[kq], -1)
                dk = scale * np.einsum("hij,ihd->jhd", ds, q).reshape(lens[km], hkv, r, d).sum(2)
                dv = np.einsum("hij,ihd->jhd", prob * fac, do).reshape(lens[km], hkv, r, d).sum(2)
                dqkv[pk][rows_k, hq * d:(hq + hkv) * d] += dk.reshape(lens[km], -1)
                dqkv[pk][rows_k, (hq + hkv) * d:] += dv.reshape(lens[km], -1)
    return out, lse, dqkv


def _row_map(case):
    """For each ring member: (sequence, index within the local piece, local row, single-rank row,
    position in the sequence) of every local token, positions built by listing; plus the
    single-rank layout (rows, cumulative sequence lengths or None when not packed)."""
    members = rings_of(case)[0]
    lens = [case["seq_lens"][case["strategy"]][p] for p in members]
    if case["packing"]:
        cu = np.asarray(case["cu_seqlens_q"][members[0]])
        piece_lens = [np.diff(cu[k]) for k in range(len(members))]
    else:
        batch = case["qkv"][members[0]].shape[0] // lens[0]
        piece_lens = [np.full(batch, n) for n in lens]
        cu = np.array([np.arange(batch + 1) * n for n in lens])
    n_seq = len(piece_lens[0])
    totals = [sum(int(pl[s]) for pl in piece_lens) for s in range(n_seq)]
    starts = np.concatenate([[0], np.cumsum(totals)])
    maps = [[] for _ in members]
    for s in range(n_seq):
        pos = _positions_by_listing([int(pl[s]) for pl in piece_lens], case["split"])
        for k in range(len(members)):
            for x, g in enumerate(pos[k]):
                maps[k].append((s, x, int(cu[k][s]) + x, int(starts[s] + g), int(g)))
    return members, [np.array(m, np.int64).reshape(-1, 5) for m in maps], starts


def _as_single_rank(case):
    """The same problem on one rank: the ring's global sequences laid out contiguously."""
    members, maps, starts = _row_map(case)
    total_rows = int(starts[-1])
    single = dict(case, cp_groups=[[0]], strategy=0, split="contiguous")
    if case["packing"]:
        cu = starts.astype(np.int32)
        single.update(seq_lens=[[total_rows]], cu_seqlens_q={0: cu}, cu_seqlens_k={0: cu})
    else:
        single.update(seq_lens=[[int(starts[1])]])
    for name in ("qkv", "dout"):
        x = np.zeros((total_rows, case[name][members[0]].shape[1]))
        for k, p in enumerate(members):
            x[maps[k][:, 3]] = case[name][p][maps[k][:, 2]]
        single[name] = {0: x}
    return single, members, maps


def _lse_rows(case, lse):
    """lse in (Hq, rows) form, packed or not."""
    return lse if case["packing"] else lse.transpose(1, 0, 2).reshape(lse.shape[1], -1)


def _ring_vs_single(case):
    """Max difference between a ring case and the single-rank problem of its global sequences,
    and the number of softmax sign (dropout) mismatches."""
    ring = compute(case)
    single_case, members, maps = _as_single_rank(case)
    single = compute(single_case)[0]
    worst, sign_mismatch = 0.0, 0
    for k, p in enumerate(members):
        seq, x, local, glob, gpos = maps[k].T
        worst = max(worst, np.max(np.abs(ring[p]["out"][local] - single["out"][glob])))
        l_ring = _lse_rows(case, ring[p]["lse"])[:, local]
        l_single = _lse_rows(single_case, single["lse"])[:, glob]
        worst = max(worst, np.max(np.where(l_ring == l_single, 0, np.abs(l_ring - l_single))))
        if case["backward"]:
            worst = max(worst, np.max(np.abs(ring[p]["dqkv"][local] - single["dqkv"][glob])))
        if case["return_softmax"]:
            s_ring = ring[p]["softmax"][seq, :, x, :]
            s_single = single["softmax"][seq, :, gpos, :s_ring.shape[-1]]
            worst = max(worst, np.max(np.abs(s_ring - s_single)))
            sign_mismatch += int(np.sum(np.signbit(s_ring) != np.signbit(s_single)))
    return worst, sign_mismatch


def _blockwise_error(case):
    out, lse, dqkv = _blockwise_ring(case)
    ref = compute(case)
    worst = 0.0
    for p in out:
        worst = max(worst, np.max(np.abs(out[p] - ref[p]["out"])))
        worst = max(worst, np.max(np.where(lse[p] == ref[p]["lse"], 0, np.abs(lse[p] - ref[p]["lse"]))))
        if case["backward"]:
            worst = max(worst, np.max(np.abs(dqkv[p] - ref[p]["dqkv"])))
    return worst


def selftest():
    rng = np.random.default_rng(20240607)
    failures = []

    def report(label, err, limit):
        ok = err <= limit
        print("%-62s max err %.3e  (limit %.0e) %s" % (label, err, limit, "ok" if ok else "FAIL"))
        if not ok:
            failures.append(label)

    # 1. backward against central finite differences (tiny float64 problems)
    print("== backward vs central finite differences (step 1e-6)")
    fd_cases = [
        ("MHA causal, B=2", dict(head_dim=8, hkv=2, seq_lens=[[5]], cp_groups=[[0]], batch=2)),
        ("GQA r=2 full, custom scale", dict(head_dim=8, hkv=1, group_query_ratio=2, seq_lens=[[6]],
                                            cp_groups=[[0]], is_causal=0, softmax_scale=0.7)),
        ("GQA r=2 causal dropout 0.3", dict(head_dim=8, hkv=1, group_query_ratio=2, seq_lens=[[7]],
                                            cp_groups=[[0]], p_dropout=0.3, rng_seed=2 ** 33 + 5,
                                            rng_offset=2 ** 32 + 64)),
        ("packed cu_q != cu_k causal dropout 0.5", dict(
            head_dim=8, hkv=1, group_query_ratio=2, seq_lens=[[9]], cp_groups=[[0]], packing=1,
            cu_q=np.array([0, 4, 4, 6, 9], np.int32), cu_k=np.array([0, 2, 5, 8, 9], np.int32),
            p_dropout=0.5, rng_seed=99, rng_offset=32)),
        ("ring sym n=3 uneven, GQA, dropout 0.2", dict(
            head_dim=8, hkv=1, group_query_ratio=2, seq_lens=[[3, 4, 5]], cp_groups=[[0, 0, 0]],
            split="sym", p_dropout=0.2, rng_seed=7, rng_offset=0)),
        ("packed ring contiguous n=2", dict(
            head_dim=8, hkv=1, seq_lens=[[5, 6]], cp_groups=[[0, 0]], packing=1,
            cu_q=np.array([[0, 2, 5], [0, 3, 6]], np.int32),
            cu_k=np.array([[0, 2, 5], [0, 3, 6]], np.int32), split="contiguous")),
    ]
    for label, kw in fd_cases:
        case = _random_case(rng, **kw)
        err, ref = _finite_difference_error(case)
        report("fd: %s (|grad| up to %.2f)" % (label, ref), err, 1e-7)

    # 2. ring vs the single-rank problem of the reassembled global sequences
    print("== ring vs single-rank on the reassembled sequence (positions by listing)")
    ring_cases = [
        ("contiguous n=2 causal", dict(seq_lens=[[40, 40]], cp_groups=[[0, 0]])),
        ("sym n=3 uneven odd causal dropout 0.17 B=2", dict(
            seq_lens=[[17, 30, 21]], cp_groups=[[0, 0, 0]], split="sym", p_dropout=0.17,
            rng_seed=2 ** 40 + 3, rng_offset=2 ** 33, batch=2, return_softmax=1)),
        ("sym n=4 GQA r=4 full softmax", dict(seq_lens=[[9, 24, 13, 30]], cp_groups=[[0] * 4],
                                              split="sym", group_query_ratio=4, is_causal=0,
                                              return_softmax=1)),
        ("contiguous n=3, 2nd strategy, dropout 0.5", dict(
            seq_lens=[[50], [11, 20, 19]], cp_groups=[[0], [0, 0, 0]], strategy=1,
            p_dropout=0.5, rng_seed=5, rng_offset=96, return_softmax=1)),
    ]
    packed_ring_cases = [
        ("packed sym n=3 dropout 0.17 softmax", dict(
            seq_lens=[[27, 30, 26]], cp_groups=[[0, 0, 0]], split="sym", packing=1,
            cu_q=np.array([[0, 9, 9, 20, 27], [0, 11, 12, 26, 30], [0, 10, 13, 13, 26]], np.int32),
            p_dropout=0.17, rng_seed=2 ** 35, rng_offset=64, return_softmax=1)),
        ("packed contiguous n=2 GQA full", dict(
            seq_lens=[[40, 21]], cp_groups=[[0, 0]], packing=1, group_query_ratio=2, is_causal=0,
            cu_q=np.array([[0, 33, 40], [0, 5, 21]], np.int32))),
    ]
    for label, kw in ring_cases + packed_ring_cases:
        if kw.get("packing"):
            kw = dict(kw, cu_k=kw["cu_q"])
        kw = dict(dict(head_dim=8, hkv=2, backward=1), **kw)
        case = _random_case(rng, **kw)
        err, signs = _ring_vs_single(case)
        report("ring==single: %s (sign mismatches %d)" % (label, signs), err + signs, 0.0)

    # 3. blockwise ring emulation with LSE merge vs the oracle
    print("== blockwise ring emulation (per-block masks, LSE merge, merged-O backward)")
    for label, kw in ring_cases:
        kw = dict(dict(head_dim=8, hkv=2, backward=1), **kw)
        case = _random_case(rng, **kw)
        report("blockwise: %s" % label, _blockwise_error(case), 1e-12)

    # 4. hand-checkable mask facts
    print("== mask facts")
    case = _random_case(rng, head_dim=8, hkv=1, seq_lens=[[9]], cp_groups=[[0]], packing=1,
                        cu_q=np.array([0, 5, 5, 9], np.int32), cu_k=np.array([0, 2, 9, 9], np.int32))
    res = compute(case)[0]
    # seq 0: Nq=5, Nk=2 -> rows 0..2 see nothing; seq 2: Nq=4, Nk=0 -> all rows see nothing
    empty_rows = [0, 1, 2, 5, 6, 7, 8]
    ok = (np.all(res["out"][empty_rows] == 0) and np.all(np.isneginf(res["lse"][:, empty_rows]))
          and np.all(np.isfinite(res["lse"][:, [3, 4]])))
    # row 3 (i=3, Nq-Nk=3) sees key 0 only: out == v of row 0
    v0 = case["qkv"][0][0, 2 * 8:3 * 8]
    err = np.max(np.abs(res["out"][3] - v0))
    report("packed Nq>Nk rows without key: out 0, lse -inf; row 3 = v_0 (%s)" % ok, err + (0 if ok else 1), 1e-15)
    a = attention(rng.standard_normal((2, 1, 8)), rng.standard_normal((5, 1, 8)),
                  rng.standard_normal((5, 1, 8)), True, 0.5)
    hand = np.array([[1, 1, 1, 1, 0], [1, 1, 1, 1, 1]], bool)
    report("causal Nq=2 < Nk=5 is bottom-right (hand-written mask)",
           float(np.sum((a["prob"][0] > 0) != hand)), 0)
    big = _random_case(rng, head_dim=8, hkv=1, seq_lens=[[256]], cp_groups=[[0]], is_causal=0,
                       p_dropout=0.17, rng_seed=1, return_softmax=1)
    sm = compute(big)[0]["softmax"]
    share = np.mean(np.signbit(sm))
    expect = 1 - (np.floor(0.83 * 255) + 1) / 256
    report("dropped share %.4f vs FA2 rule %.4f (256x256)" % (share, expect), abs(share - expect), 5e-3)
    rows_sum = np.abs(sm).sum(axis=-1)
    report("softmax rows sum to 1 (|value|)", np.max(np.abs(rows_sum - 1)), 1e-12)

    print("selftest: %s" % ("all ok" if not failures else "FAILED: %s" % failures))
    return 0 if not failures else 1


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "--selftest":
        sys.exit(selftest())
    if len(sys.argv) >= 3 and sys.argv[1] == "--check":
        sys.exit(0 if check_folders(sys.argv[2:]) < 1e-12 else 1)
    print(__doc__)
    sys.exit(2)

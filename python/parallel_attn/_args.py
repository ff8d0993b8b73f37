"""The Python arguments of a call, normalised and checked in plain Python.

Nothing here touches ctypes or reads tensor data, so torch.compile traces it; _call.py turns
Args into a pattnParams_t, and the library checks the rest (with messages naming the
parameter). Strategy tables may be ragged (a strategy with fewer pipelines): missing pipelines
are padded with length 0 in a group of their own, which is what the C API's rectangular
[strategy][pipeline] table needs and no ring sees.
"""
import numbers

from . import _capi


def _rows(table, name):
    """A strategies x pipelines table as a list of lists of ints (a flat list is one strategy)."""
    if hasattr(table, "tolist"):
        table = table.tolist()
    table = list(table)
    if not table:
        raise ValueError("%s is empty: expected one list of per-pipeline values per strategy" % name)
    if all(isinstance(x, numbers.Integral) for x in table):
        table = [table]
    try:
        return [[int(v) for v in row] for row in table]
    except TypeError:
        raise TypeError("%s = %r: expected a list of lists of integers ([strategy][pipeline])"
                        % (name, table)) from None


def _shape_of_lists(x):
    """The shape of nested lists (cu_seqlens given as Python lists)."""
    return (len(x),) + (_shape_of_lists(x[0]) if x and isinstance(x[0], (list, tuple)) else ())


def strategy_table(multi_seq_lens, multi_cp_group):
    """(lens, groups): equal-width lists of lists, ragged strategies padded."""
    lens = _rows(multi_seq_lens, "multi_seq_lens")
    groups = _rows(multi_cp_group, "multi_cp_group")
    if len(lens) != len(groups):
        raise ValueError("multi_seq_lens has %d strategies, multi_cp_group %d: expected the same"
                         % (len(lens), len(groups)))
    for s, (lrow, grow) in enumerate(zip(lens, groups)):
        if len(lrow) != len(grow):
            raise ValueError("strategy %d: multi_seq_lens has %d pipelines, multi_cp_group %d: "
                             "expected the same" % (s, len(lrow), len(grow)))
    width = max(len(row) for row in lens)
    spare = max(g for row in groups for g in row) + 1
    for lrow, grow in zip(lens, groups):
        for q in range(len(lrow), width):
            lrow.append(0)
            grow.append(spare + q)
    return lens, groups


class Args:
    """One call's arguments: what pattnParams_t holds apart from the dtype and qkv's shape."""

    def __init__(self, head_dim, group_query_ratio, multi_seq_lens, multi_cp_group, packing,
                 cu_seqlens_q, cu_seqlens_k, max_seqlen_q, max_seqlen_k, p_dropout,
                 softmax_scale, is_causal, return_softmax, strategy, pipeline, split):
        self.head_dim = int(head_dim)
        self.group_query_ratio = int(group_query_ratio)
        self.lens, self.groups = strategy_table(multi_seq_lens, multi_cp_group)
        self.strategy, self.pipeline = int(strategy), int(pipeline)
        if not 0 <= self.strategy < len(self.lens):
            raise ValueError("strategy = %d: expected an index in [0, %d)"
                             % (self.strategy, len(self.lens)))
        if not 0 <= self.pipeline < len(self.lens[0]):
            raise ValueError("pipeline = %d: expected an index in [0, %d)"
                             % (self.pipeline, len(self.lens[0])))
        if split not in _capi.SPLITS:
            raise ValueError("split = %r: expected one of %s" % (split, sorted(_capi.SPLITS)))
        self.split = split
        self.packing = bool(packing)
        if self.packing:
            if cu_seqlens_q is None:
                raise ValueError("cu_seqlens_q = None: expected the cumulative sequence lengths "
                                 "since packing = True")
            cu_seqlens_k = cu_seqlens_q if cu_seqlens_k is None else cu_seqlens_k
        elif cu_seqlens_q is not None or cu_seqlens_k is not None:
            raise ValueError("cu_seqlens_q/cu_seqlens_k given with packing = False: expected None "
                             "(or packing = True)")
        self.cu_seqlens_q, self.cu_seqlens_k = cu_seqlens_q, cu_seqlens_k
        # -1: derived from cu_seqlens (the smallest value the library accepts).
        self.max_seqlen_q = -1 if max_seqlen_q is None else int(max_seqlen_q)
        self.max_seqlen_k = -1 if max_seqlen_k is None else int(max_seqlen_k)
        self.p_dropout = float(p_dropout)
        self.softmax_scale = float(softmax_scale)
        self.is_causal = bool(is_causal)
        self.return_softmax = bool(return_softmax)

    def ring(self, pipeline=None):
        """The pipelines of the ring of `pipeline` (default: the caller's), in ring order."""
        groups = self.groups[self.strategy]
        mine = groups[self.pipeline if pipeline is None else pipeline]
        return [q for q, g in enumerate(groups) if g == mine]

    def local_len(self, pipeline=None):
        return self.lens[self.strategy][self.pipeline if pipeline is None else pipeline]

    def num_q_heads(self, cols):
        r = self.group_query_ratio
        return cols // self.head_dim // (r + 2) * r

    def num_units(self, rows):
        """Samples B, or packed sequences P: what the generator advance counts."""
        if self.packing:
            cu = self.cu_seqlens_q
            return (cu.shape if hasattr(cu, "shape") else _shape_of_lists(cu))[-1] - 1
        length = self.local_len()
        return rows // length if length else 0

    def generator_advance(self, rows, cols):
        """How far a forward with these arguments moves the generator's offset (SPEC 4)."""
        if self.p_dropout <= 0:
            return 0
        return self.num_units(rows) * self.num_q_heads(cols) * 32

    # ------------------------------------------------------------ as custom-op arguments
    def flat(self):
        """The arguments as a flat tuple of tensors-or-None, ints, floats, bools and int lists
        (the schema of the torch ops); from_flat() inverts it."""
        width = len(self.lens[0])
        return (self.cu_seqlens_q, self.cu_seqlens_k, self.head_dim, self.group_query_ratio,
                [v for row in self.lens for v in row], [g for row in self.groups for g in row],
                width, self.packing, self.max_seqlen_q, self.max_seqlen_k, self.p_dropout,
                self.softmax_scale, self.is_causal, self.return_softmax, self.strategy,
                self.pipeline, _capi.SPLITS[self.split])

    @classmethod
    def from_flat(cls, cu_q, cu_k, head_dim, ratio, lens, groups, width, packing, max_q, max_k,
                  p_dropout, scale, causal, return_softmax, strategy, pipeline, split):
        def table(flat):
            return [list(flat[i:i + width]) for i in range(0, len(flat), width)]
        split_name = {v: k for k, v in _capi.SPLITS.items()}[split]
        return cls(head_dim, ratio, table(lens), table(groups), packing, cu_q, cu_k,
                   None if max_q < 0 else max_q, None if max_k < 0 else max_k, p_dropout, scale,
                   causal, return_softmax, strategy, pipeline, split_name)

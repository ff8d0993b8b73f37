"""Reading and writing golden cases (the format of data/FORMAT.md), for the generators and users.

    import sys; sys.path.insert(0, "tools/golden")
    import case_io
    case_io.write_case("my_cases/tiny", {"dtype": "bf16", "head_dim": 16, "seq_lens": [[32]],
                                         "cp_groups": [[0]], "source": "my notes"},
                       {"qkv": {0: case_io.round_to(qkv, "bf16")}, "out": {0: out64}})
    case, expected = case_io.read_case("my_cases/tiny")

write_case writes case.txt and one .npy file per array, in the dtypes the format asks for:
inputs (qkv, dout) float32, which must hold values exactly representable in the case's dtype
(round them with round_to first), cu_seqlens int32, rng_state int64 (unsigned seeds are stored
by their bits), expected out/lse/softmax/dqkv float32 when given float32 and float64 otherwise;
all little-endian and C-ordered. read_case returns the dict that oracle.compute() takes, with
the format's defaults filled in, and the expected arrays per pipeline.
"""
import os

import numpy as np

DEFAULTS = {
    "group_query_ratio": 1, "strategy": 0, "split": "contiguous", "packing": 0, "is_causal": 1,
    "return_softmax": 0, "p_dropout": 0.0, "softmax_scale": -1.0, "rng_seed": 0,
    "rng_offset": 0, "backward": 0,
}
INT_KEYS = ("head_dim", "group_query_ratio", "strategy", "packing", "is_causal",
            "return_softmax", "rng_seed", "rng_offset", "backward", "max_seqlen_q",
            "max_seqlen_k")
FLOAT_KEYS = ("p_dropout", "softmax_scale")
LIST_KEYS = ("seq_lens", "cp_groups")
INPUT_ARRAYS = ("qkv", "cu_seqlens_q", "cu_seqlens_k", "dout")
EXPECTED_ARRAYS = ("out", "lse", "rng_state", "softmax", "dqkv")
REQUIRED_KEYS = ("dtype", "head_dim", "group_query_ratio", "seq_lens", "cp_groups")
# case.txt keys in the order write_case puts them first; any others follow, `source` last.
KEY_ORDER = ("dtype", "head_dim", "group_query_ratio", "seq_lens", "cp_groups", "strategy",
             "split", "packing", "is_causal", "return_softmax", "p_dropout", "softmax_scale",
             "rng_seed", "rng_offset", "backward")


# ------------------------------------------------------------------ dtype rounding

def round_bf16(x):
    """Round float32 values to bfloat16 (round to nearest even on the float32 bits); NaN and
    the infinities are kept as they are."""
    x = np.ascontiguousarray(x, np.float32)
    bits = x.view(np.uint32).astype(np.uint64)
    rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000).astype(np.uint32)
    return np.where(np.isfinite(x), rounded.view(np.float32), x)


def round_to(x, dtype):
    """x rounded to the case dtype ("fp32", "fp16", "bf16"), as float32."""
    x = np.asarray(x, np.float32)
    if dtype == "fp16":
        return x.astype(np.float16).astype(np.float32)
    if dtype == "bf16":
        return round_bf16(x)
    if dtype == "fp32":
        return x
    raise ValueError("dtype = %r: expected fp32, fp16 or bf16" % (dtype,))


# ------------------------------------------------------------------ case.txt

def parse_lists(text):
    """'64,64 ; 128' -> [[64, 64], [128]]"""
    return [[int(x) for x in part.split(",")] for part in text.split(";")]


def format_lists(lists):
    """[[64, 64], [128]] -> '64,64 ; 128' (a flat list is one strategy)."""
    if all(not isinstance(row, (list, tuple, np.ndarray)) for row in lists):
        lists = [lists]
    return " ; ".join(",".join(str(int(x)) for x in row) for row in lists)


def _format_value(key, value):
    if key in LIST_KEYS:
        return format_lists(value)
    if isinstance(value, (bool, np.bool_)):
        return str(int(value))
    if isinstance(value, float):
        return repr(value)
    return str(value)


def case_text(config, comment=()):
    """The case.txt of a config dict: `# ` comment lines, then `key = value` lines."""
    keys = [k for k in KEY_ORDER if k in config]
    keys += [k for k in config if k not in KEY_ORDER and k != "source"]
    keys += ["source"] if "source" in config else []
    lines = ["# %s" % line for line in comment]
    lines += ["%s = %s" % (k, _format_value(k, config[k])) for k in keys]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ arrays

def save_array(folder, name, array, dtype):
    """np.save of array as a little-endian, C-ordered array of dtype."""
    np.save(os.path.join(folder, name),
            np.ascontiguousarray(array, dtype=np.dtype(dtype).newbyteorder("<")))


def _stored_dtype(name, array, case_dtype):
    """The dtype `name` is stored in, checking inputs are exact in the case dtype."""
    if name in ("qkv", "dout"):
        values = np.asarray(array, np.float64)
        rounded = round_to(values, case_dtype).astype(np.float64)
        bad = ~((rounded == values) | (np.isnan(rounded) & np.isnan(values)))
        if bad.any():
            at = tuple(int(i) for i in np.unravel_index(int(np.argmax(bad)), values.shape))
            raise ValueError("%s%s = %r is not exactly representable in %s (round the array "
                             "with case_io.round_to first)"
                             % (name, list(at), float(values[at]), case_dtype))
        return np.float32
    if name in ("cu_seqlens_q", "cu_seqlens_k"):
        values = np.asarray(array)
        if values.size and (values.min() < 0 or values.max() > np.iinfo(np.int32).max):
            raise ValueError("%s holds values outside int32" % name)
        return np.int32
    if name == "rng_state":
        return np.int64
    return np.float32 if np.asarray(array).dtype == np.float32 else np.float64


def _int64_bits(values):
    """Integers in [-2^63, 2^64) as int64 arrays of the same 64 bits (seeds above 2^63)."""
    values = np.asarray(values, dtype=object)
    wrapped = [int(v) - 2 ** 64 if int(v) >= 2 ** 63 else int(v) for v in values.reshape(-1)]
    return np.array(wrapped, dtype=np.int64).reshape(values.shape)


def write_case(folder, config, arrays, comment=()):
    """Writes a case folder: case.txt from config, and arrays[name][pipeline] (a dict, or a list
    indexed by pipeline) as name.pipeline.npy. An existing case.txt and .npy files there are
    replaced first, so no stale array stays behind."""
    unknown = set(arrays) - set(INPUT_ARRAYS) - set(EXPECTED_ARRAYS)
    if unknown:
        raise ValueError("arrays %s: expected names from %s" % (sorted(unknown),
                                                                 INPUT_ARRAYS + EXPECTED_ARRAYS))
    missing = [k for k in REQUIRED_KEYS if k not in config]
    if missing:
        raise ValueError("config lacks %s: every case needs %s" % (missing, list(REQUIRED_KEYS)))
    os.makedirs(folder, exist_ok=True)
    for name in os.listdir(folder):
        if name == "case.txt" or name.endswith(".npy"):
            os.remove(os.path.join(folder, name))
    with open(os.path.join(folder, "case.txt"), "w") as f:
        f.write(case_text(config, comment))
    for name, per_pipeline in arrays.items():
        items = per_pipeline.items() if isinstance(per_pipeline, dict) else enumerate(per_pipeline)
        for p, array in items:
            if name == "rng_state":
                array = _int64_bits(array)
            save_array(folder, "%s.%d.npy" % (name, p), array,
                       _stored_dtype(name, array, config["dtype"]))
    return folder


def read_case(folder):
    """A case folder as (case, expected): the dict oracle.compute() takes, with defaults, and
    expected[pipeline][name] for the expected arrays it holds."""
    case = dict(DEFAULTS)
    with open(os.path.join(folder, "case.txt")) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            key, value = (s.strip() for s in line.split("=", 1))
            if key in LIST_KEYS:
                case[key] = parse_lists(value)
            elif key in INT_KEYS:
                case[key] = int(value)
            elif key in FLOAT_KEYS:
                case[key] = float(value)
            else:
                case[key] = value
    expected = {}
    for name in sorted(os.listdir(folder)):
        stem, p, ext = name.rsplit(".", 2) if name.count(".") >= 2 else (None, None, None)
        if ext != "npy":
            continue
        array = np.load(os.path.join(folder, name))
        if stem in INPUT_ARRAYS:
            case.setdefault(stem, {})[int(p)] = array
        elif stem in EXPECTED_ARRAYS:
            expected.setdefault(int(p), {})[stem] = array
    return case, expected

#!/usr/bin/env python3
"""Seeded-bug sweep: apply plausible bugs one at a time and check that some test kills each.

A copy of the tree (tracked and untracked-but-not-ignored files) is built once in a scratch
folder with the CPU reference; then, for each mutant, one exact string replacement is made in
one file, the build is updated, and the suites run: the golden cases on the reference
(`conformance`), the Criterion suites (unit, canary, bench check) with a fixed seed, and the
CLI checks of tools/ci/. A mutant dies when any of them fails; the sweep fails when one
survives or no longer applies (its string is gone: update the list after a refactor).

  python3 tools/mutation_sweep.py [--scratch DIR] [--only M03,M28] [--list]

M29 of the review (the merge's w_b == 0 guard) is left out: it is equivalent on the reference
path (the guard protects poisoned accumulators on the GPU).
"""
import argparse
import os
import shutil
import subprocess
import sys
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

# (name, file, exact text, replacement, what it breaks)
MUTANTS = [
    ("M01", "core/plan.c", "tails_before += l - l / 2;", "tails_before += l / 2;",
     "plan: sym tail count floor instead of ceil"),
    ("M02", "core/mask.h", "pattn_causal_sees(q0, k0 + nk - 1, shift)",
     "pattn_causal_sees(q0, k0 + nk - 2, shift)", "block class: FULL boundary off by one"),
    ("M03", "core/mask.h", "if (!pattn_causal_sees(q0 + nq - 1, k0, shift))",
     "if (!pattn_causal_sees(q0 + nq - 1, k0 + 1, shift))",
     "block class: EMPTY boundary off by one (> became >=)"),
    ("M04", "core/plan.c", "pattn_block_mask(p, &qr[a], &kr[b], lk - lq)",
     "pattn_block_mask(p, &qr[a], &kr[b], lq - lk)", "plan: causal shift sign"),
    ("M05", "core/philox.h", "return (uint32_t)((i % 8) * 4 + (j % 8) / 2);",
     "return (uint32_t)((i % 8) * 4 + (j % 4));", "Philox lane mapping"),
    ("M06", "core/philox.h", "uint32_t dj = js * 16 + jh * 8 + jp * 2 + jo;",
     "uint32_t dj = js * 16 + jh * 8 + jo * 2 + jp;", "Philox tile inversion"),
    ("M07", "core/philox.h", "(t <= 0.0 ? 0 : (int)t)", "(t <= 0.0 ? 0 : (int)(t + 0.5))",
     "dropout threshold rounding"),
    ("M08", "core/lse_merge.h", "float mx = lse_a > lse_b ? lse_a : lse_b;", "float mx = lse_a;",
     "LSE merge: max taken from one side"),
    ("M09", "core/api.c", "gen->offset += (uint64_t)(pattn_num_units(p) * p->Hq * 32);",
     "gen->offset += (uint64_t)(p->Hq * 32);", "generator advance without the units"),
    ("M10", "core/problem.c", "p->keep_scale = (float)(1.0 / (1.0 - pr->p_dropout));",
     "p->keep_scale = 1.0f;", "dropout keep scale 1"),
    ("M11", "reference/attend.c", "float f = p->keep_scale / w->l[i];", "float f = 1.0f / w->l[i];",
     "forward normalises without the keep scale"),
    ("M12", "reference/attend.c", "        if (corr != 1.0f)\n            ref_row_scale(",
     "        if (0)\n            ref_row_scale(", "online softmax: no rescale on a new max"),
    ("M13", "reference/tiles.c", "pattn_visible_span(PATTN_QUERY_MAJOR, 1, pair->shift, pair->q.pos + i",
     "pattn_visible_span(PATTN_QUERY_MAJOR, 1, pair->shift - 1, pair->q.pos + i",
     "reference tiles: the causal mask hides the diagonal"),
    ("M14", "reference/backward.c", "(int)m, p->scale,\n                    w->s, REF_BC, w->q",
     "(int)m, 1.0f,\n                    w->s, REF_BC, w->q", "dK without the scale"),
    ("M15", "reference/backward.c", "h < (st->head + 1) * p->r; ++h)",
     "h < st->head * p->r + 1; ++h)", "dK/dV from the group's first query head only"),
    ("M16", "reference/backward.c", "sum += w->acc[i * D + x] * w->o[i * D + x];",
     "sum += w->o[i * D + x] * w->o[i * D + x];", "backward D = rowsum(dO * dO)"),
    ("M17", "reference/schedule.c", "visit_item(c, it, PATTN_KEY_MAJOR, k, (k->member + t) % c->p->n",
     "visit_item(c, it, PATTN_KEY_MAJOR, k, (k->member + c->p->n - t) % c->p->n",
     "backward ring direction"),
    ("M46", "core/mask.h", "return kpos <= qpos + shift;", "return kpos < qpos + shift;",
     "the mask predicate hides the diagonal"),
    ("M18", "reference/softmax_matrix.c", "out[j] = dropout && keep[j] > p->keep_threshold ? -v : v;",
     "out[j] = v;", "softmax without the dropout sign bit"),
    ("M19", "reference/forward.c", "pattn_lse_index(p, k, q->unit, h, q->row + i)] = w->lse[i];",
     "pattn_lse_index(p, k, 0, h, q->row + i)] = w->lse[i];", "lse stored at unit 0"),
    ("M20", "reference/attend.c", "        if (dropout)\n            ref_row_dropout(",
     "        if (0)\n            ref_row_dropout(", "forward without dropout on P"),
    ("M21", "conformance/compare.c", "if (share > 1)\n            ++res->over_tolerance;",
     "if (share > 2)\n            ++res->over_tolerance;", "harness: twice the tolerance"),
    ("M22", "conformance/compare.c", "        if (got->unwritten[i]) {\n            if (!isnan(e)) {",
     "        if (0 && got->unwritten[i]) {\n            if (!isnan(e)) {",
     "harness ignores unwritten elements"),
    ("M23", "conformance/compare.c", "if (signbit(g) != signbit(e))\n                ++res->sign_mismatch;",
     "if (0)\n                ++res->sign_mismatch;", "harness ignores the softmax sign"),
    ("M24", "conformance/tolerance.c", "{4e-3, 1.6e-2, 2e-4, 1e-2, 3e-2, NAN, NAN, dtype}",
     "{4e-2, 1.6e-1, 2e-4, 1e-1, 3e-1, NAN, NAN, dtype}", "bf16 tolerances 10x looser"),
    ("M25", "conformance/run.c", "if (check_generators(c, m, n, gens, &err)) {",
     "if (0 && check_generators(c, m, n, gens, &err)) {", "harness: generator check off"),
    ("M26", "conformance/run.c", "poison(dtypes[b], m->host[b], m->count[b]);",
     "memset(m->host[b], 0, bytes);", "harness: outputs zero-filled, not poisoned"),
    ("M27", "core/problem.c", "if (pr->max_seqlen_q < lq)", "if (pr->max_seqlen_q < lq - 1)",
     "max_seqlen_q bound off by one"),
    ("M28", "core/dtype.h", "u += 0x7fffu + ((u >> 16) & 1u);", "u += 0x8000u;",
     "bf16 rounding half-up"),
    ("M30", "core/problem.c", "(float)(1.0 / sqrt((double)pr->head_dim))",
     "(float)(1.0 / sqrt((double)pr->head_dim + 1))", "default scale 1/sqrt(D+1)"),
    ("M31", "core/plan.c", "int64_t h = len / 2, t = len - h;", "int64_t h = (len + 1) / 2, t = len - h;",
     "plan: sym head count ceil"),
    ("M32", "reference/backward.c", "load_key_side(st->c, w, &pair->k, st->head / p->r);",
     "load_key_side(st->c, w, &pair->k, st->head % p->Hkv);", "dQ pass reads KV head h % Hkv"),
    ("M33", "core/dtype.h", "if (rem > 0x1000u || (rem == 0x1000u && (half & 1u)))",
     "if (rem >= 0x1000u)", "fp16 rounding half-up"),
    ("M34", "conformance/compare.c", "res->rule_broken = res->max_abs > res->rule_limit;",
     "res->rule_broken = 0;", "harness: FlashAttention's rule not applied"),
    ("M35", "conformance/report.c", 'fprintf(r->out, "%s%d passed, %d failed", r->opt.tap ? "# " : "",',
     'fprintf(r->out, "%s%d passed, %d failed", r->opt.tap ? "" : "",',
     "TAP: the closing count is not a comment"),
    ("M36", "conformance/junit.c", 'fprintf(f, "\\" time=\\"%.3f\\">\\n", e->seconds);',
     'fprintf(f, "\\" time=\\"%.6f\\">\\n", e->seconds);', "JUnit: 6-decimal times"),
    ("M37", "conformance/junit.c", 'static const char *const CHILD[] = {NULL, "failure", "error", "skipped"};',
     'static const char *const CHILD[] = {NULL, "failure", "failure", "skipped"};',
     "JUnit: errors written as failures"),
    ("M38", "conformance/outputs.c", "t->unwritten[i] = (unsigned char)isnan(t->values[i]);",
     "t->unwritten[i] = 0;", "--outputs: NaN not read as unwritten"),
    ("M39", "conformance/main.c", "if (checked == 0 || skipped > checked) {", "if (0) {",
     "a run that checked too little passes"),
    ("M40", "conformance/options.c", "case 'f': o->filters[o->num_filters++] = optarg; break;",
     "case 'f': o->filters[0] = optarg; o->num_filters = 1; break;",
     "a repeated --filter keeps the last"),
    ("M41", "conformance/run.c", "m->rng_state[0] = m->rng_state[1] = POISON_I64;",
     "m->rng_state[0] = m->rng_state[1] = 0;", "harness: rng_state not poisoned"),
    ("M42", "conformance/plot.c", "cell > 1 ? BEYOND", "cell > 1e9 ? BEYOND",
     "heat map: errors beyond the bound not marked"),
    ("M43", "tools/bench_check.c", "res->wrong += !same_nonfinite && !(fabs(g - e) <= atol + rtol * fabs(e));",
     "res->wrong += !same_nonfinite && 0 * fabs(g - e) * atol * rtol;", "pattn-bench: #wrong always 0"),
    ("M44", "tools/bench_check.c", "src[0] = row->heads * D;", "src[0] = 0;",
     "pattn-bench: the sample's K heads taken from Q"),
    ("M45", "conformance/main.c", "char *name = names ? strdup(names[i]) : unique_name(cases, kept, dir);",
     "char *name = strdup(names ? names[i] : strrchr(dir, '/') ? strrchr(dir, '/') + 1 : dir);",
     "two --case folders of one name merge"),
]

SUITES = [
    ("golden", ["{b}/conformance", "--backend", "reference", "--data", "data"]),
    ("unit", ["{b}/pattn-tests", "--jobs", "2"]),
    ("canary", ["{b}/pattn-canary-tests", "--jobs", "2"]),
    ("bench", ["{b}/pattn-bench-tests"]),
    ("cli", ["tools/ci/report_formats.sh", "{b}"]),
    ("bench-cli", ["tools/ci/bench_smoke.sh", "{b}"]),
]


def run(cmd, cwd, log, env=None, timeout=900):
    """The command's exit status; a command that runs past timeout seconds (a mutant can make
    a loop endless) is stopped and counts as failed."""
    with open(log, "a") as f:
        f.write("$ %s\n" % " ".join(cmd))
        f.flush()
        try:
            return subprocess.call(cmd, cwd=cwd, stdout=f, stderr=subprocess.STDOUT, env=env,
                                   timeout=timeout)
        except subprocess.TimeoutExpired:
            f.write("timed out after %d s\n" % timeout)
            return -1


def copy_tree(scratch):
    src = os.path.join(scratch, "src")
    if os.path.isdir(src):
        shutil.rmtree(src)
    files = subprocess.check_output(["git", "ls-files", "-co", "--exclude-standard", "-z"],
                                    cwd=REPO).decode().split("\0")
    for rel in filter(None, files):
        if not os.path.isfile(os.path.join(REPO, rel)):
            continue
        os.makedirs(os.path.dirname(os.path.join(src, rel)) or src, exist_ok=True)
        shutil.copy2(os.path.join(REPO, rel), os.path.join(src, rel))
    return src


def suites_failing(src, build, log):
    env = dict(os.environ, PATTN_TEST_SEED="12345", PATTN_DATA_DIR=os.path.join(src, "data"))
    failing = []
    for name, cmd in SUITES:
        if run([c.format(b=build) for c in cmd], src, log, env, timeout=300) != 0:
            failing.append(name)
    return failing


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scratch", default="/tmp/pattn-mutants")
    ap.add_argument("--only", help="comma-separated mutant names")
    ap.add_argument("--list", action="store_true")
    args = ap.parse_args()
    mutants = [m for m in MUTANTS if not args.only or m[0] in args.only.split(",")]
    if args.list:
        for name, path, _, _, what in mutants:
            print("%s  %-28s %s" % (name, path, what))
        return 0
    os.makedirs(args.scratch, exist_ok=True)
    log = os.path.join(args.scratch, "sweep.log")
    open(log, "w").close()
    src = copy_tree(args.scratch)
    build = os.path.join(args.scratch, "build")
    configure = ["cmake", "-S", ".", "-B", build, "-DPATTN_CUDA=OFF", "-DPATTN_GIT_COMMIT=sweep"]
    if run(configure, src, log) or run(["cmake", "--build", build, "-j2"], src, log):
        print("the unmutated tree does not build: see %s" % log)
        return 1
    clean = suites_failing(src, build, log)
    if clean:
        print("the unmutated tree fails %s: see %s" % (", ".join(clean), log))
        return 1
    print("| mutant | what | killed by |\n| --- | --- | --- |")
    survivors = 0
    for name, path, old, new, what in mutants:
        start = time.time()
        target = os.path.join(src, path)
        with open(target) as f:
            text = f.read()
        if text.count(old) != 1:
            verdict = "DOES NOT APPLY (%d matches)" % text.count(old)
            survivors += 1
        else:
            with open(target, "w") as f:
                f.write(text.replace(old, new))
            if run(["cmake", "--build", build, "-j2"], src, log) != 0:
                verdict = "DOES NOT COMPILE (fix the list)"
                survivors += 1
            else:
                failing = suites_failing(src, build, log)
                verdict = ", ".join(failing) if failing else "SURVIVED"
                survivors += not failing
            with open(target, "w") as f:
                f.write(text)
        print("| %s | %s (`%s`) | %s |" % (name, what, path, verdict), flush=True)
        with open(log, "a") as f:
            f.write("== %s %s (%.0f s)\n" % (name, verdict, time.time() - start))
    run(["cmake", "--build", build, "-j2"], src, log)
    print("%d of %d mutants killed" % (len(mutants) - survivors, len(mutants)))
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main())

"""tools/sass_waits.py on small listings in cuobjdump's layout: the exponentials of a trip before
the wait for P V pass, after it fail; Philox multiplies are counted on either side and, with
--expect-philox, required; no loop is exit 2."""
import os
import subprocess
import sys

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")


def listing(body):
    """A cuobjdump-style listing: one instruction per line with address and encoding."""
    return "".join(f"        /*{16 * i:04x}*/                   {s} ;  /* 0x0 */\n"
                   for i, s in enumerate(body))


def run(tmp_path, body, *flags):
    path = tmp_path / "k.sass"
    path.write_text("\tcode for sm_90a\n" + listing(body))
    r = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "sass_waits.py"), str(path),
                        *flags], capture_output=True, text=True)
    return r.returncode, r.stdout


TRIP_HEAD = ["BAR.SYNC.DEFER_BLOCKING R0, 0x100", "HGMMA.64x128x16.F32.BF16 R24, gdesc[UR4], RZ, !UPT",
             "HGMMA.64x128x16.F32.BF16 R88, R152, gdesc[UR12].tnspB, R88, gsb0",
             "BAR.ARV R2, 0x100", "WARPGROUP.DEPBAR.LE gsb0, 0x1"]
PHILOX = "IMAD.WIDE.U32 R70, R70, -0x326172a9, RZ"


def test_softmax_under_the_product_passes(tmp_path):
    body = TRIP_HEAD + ["MUFU.EX2 R1, R1"] * 8 + [PHILOX] * 4 + [
        "WARPGROUP.DEPBAR.LE gsb0, 0x0", "FMUL R88, R88, R5", "BAR.SYNC.DEFER_BLOCKING R0, 0x100"]
    rc, out = run(tmp_path, body)
    assert rc == 0, out
    assert "exponentials 8 before the wait for P V, 0 after; Philox multiplies 4 before, 0 after" in out


def test_wait_hoisted_above_the_softmax_fails(tmp_path):
    body = TRIP_HEAD + ["FMNMX R2, R24, R25, !PT", "WARPGROUP.DEPBAR.LE gsb0, 0x0"] + [
        "MUFU.EX2 R1, R1"] * 8 + ["BAR.SYNC.DEFER_BLOCKING R0, 0x100"]
    rc, out = run(tmp_path, body)
    assert rc == 1 and "FAIL: 0.00" in out, out


def test_philox_after_the_wait_is_counted_not_failed(tmp_path):
    """Where ptxas sinks the rounds to the packed P's masking (fwd_tma since 36bb3d6)."""
    body = TRIP_HEAD + ["MUFU.EX2 R1, R1"] * 8 + ["WARPGROUP.DEPBAR.LE gsb0, 0x0"] + [PHILOX] * 4 + [
        "BAR.SYNC.DEFER_BLOCKING R0, 0x100"]
    rc, out = run(tmp_path, body, "--expect-philox")
    assert rc == 0 and "Philox multiplies 0 before, 4 after" in out, out


def test_a_trip_without_exponentials_fails(tmp_path):
    body = TRIP_HEAD + ["FMNMX R2, R24, R25, !PT", "WARPGROUP.DEPBAR.LE gsb0, 0x0",
                        "BAR.SYNC.DEFER_BLOCKING R0, 0x100"]
    rc, out = run(tmp_path, body)
    assert rc == 1 and "no exponentials" in out, out


def test_expected_philox_missing_fails(tmp_path):
    """Philox multiplying by a register (not the constants this reads) after the wait: without
    --expect-philox it goes unseen, with it the check fails."""
    body = TRIP_HEAD + ["MUFU.EX2 R1, R1"] * 8 + ["WARPGROUP.DEPBAR.LE gsb0, 0x0",
                                                   "IMAD.WIDE.U32 R70, R70, R12, RZ",
                                                   "BAR.SYNC.DEFER_BLOCKING R0, 0x100"]
    assert run(tmp_path, body)[0] == 0
    rc, out = run(tmp_path, body, "--expect-philox")
    assert rc == 1 and "no Philox multiplies" in out, out


def test_no_loop(tmp_path):
    rc, out = run(tmp_path, ["MUFU.EX2 R1, R1", "WARPGROUP.DEPBAR.LE gsb0, 0x0"])
    assert rc == 2, out

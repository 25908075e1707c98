"""Benchmark: the people pass (reenactor.pose.people) - what it costs a one-person video, and what it finds.

1. carphone (one man, 176 x 144, 120 frames), ``extract(size=128)`` end to end, alternating over ROUNDS rounds
   in one process: *with* the people pass (the default, ``--person auto``: it finds one person, so Holistic
   runs on the whole frames as before; it runs alongside pass 1, which bets on one person) and *without* it
   (the people pass replaced by nothing: pass 1 decodes and runs as it did before the people pass existed). Median wall-clock and CPU time
   (this process, all threads), the overhead, and whether the arrays are identical. Target: <= +10 %.
2. Two people: carphone beside a copy of itself 30 frames ahead (352 x 144, 120 frames): the tracks found, the
   whole-frame extraction of before (where it switches from one man to the other), and ``--person left`` /
   ``right`` (chunks of 32): the share of frames with a pose whose nose is on the chosen half.
3. vtest.avi (OpenCV's pedestrian video, 768 x 576, 795 frames; not shipped: give its path as the first
   argument, or it is looked for at /work/data/vtest.avi, else skipped): the people pass's time and tracks,
   and ``extract --person auto`` on it (which track, its coverage, frames with a pose).

Prints one table per part; the last line is the headline.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

import reenactor.pose.people as people_mod  # noqa: E402
from reenactor.extract import extract  # noqa: E402
from reenactor.io.video import iter_frames, probe, write_video  # noqa: E402
from reenactor.samples import sample_path  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
ARRAYS = ("frames", "body", "face", "hand_left", "hand_right", "mask", "face_box", "person", "detected")
ARRAYS += ("pose_raw", "face_raw", "hand_left_raw", "hand_right_raw")


def _no_people_pass(src, info, work, opts, progress, log, ram, workers):
    """In place of extract's people pass: nobody found, nothing decoded, so pass 1 runs on whole frames and
    decodes as it did before the people pass existed."""
    ppl = people_mod.People(info.n_frames, info.height, info.width, info.fps, 1, [])
    return people_mod.Selection(ppl, "auto", None, "no people pass", None), -1


def _timed_extract(src: Path, out: Path, **kw):
    t, c = time.perf_counter(), time.process_time()
    clip = extract(src, out, progress=False, log=lambda *_: None, **kw)
    return clip, time.perf_counter() - t, time.process_time() - c


def carphone(tmp: Path) -> dict:
    import reenactor.extract as extract_mod

    src = sample_path("carphone")
    real = extract_mod._people_alongside
    res: dict[str, list] = {"with": [], "without": []}
    clips = {}
    _timed_extract(src, tmp / "warm", size=128)  # imports, first graph
    for r in range(ROUNDS):
        for how in ("with", "without") if r % 2 == 0 else ("without", "with"):
            extract_mod._people_alongside = real if how == "with" else _no_people_pass
            try:
                clip, wall, cpu = _timed_extract(src, tmp / f"c_{how}_{r}", size=128)
            finally:
                extract_mod._people_alongside = real
            res[how].append((wall, cpu))
            clips[how] = clip
    diff = max(
        float(
            np.abs(
                clips["with"].load(k).astype(np.float64) - clips["without"].load(k).astype(np.float64)
            ).max()
        )
        for k in ARRAYS
    )
    med = {
        h: (statistics.median(w for w, _ in v), min(w for w, _ in v), statistics.median(c for _, c in v))
        for h, v in res.items()
    }
    people_s = clips["with"].stage("extract").get("seconds_people", 0.0)
    print(f"1. carphone extract (size 128), {ROUNDS} rounds, alternating")
    print(f"{'':<28}{'wall median':>12}{'wall min':>10}{'CPU median':>12}   rounds (wall s)")
    for h in ("without", "with"):
        rounds = "  ".join(f"{w:.2f}" for w, _ in res[h])
        m = med[h]
        print(f"{h + ' the people pass':<28}{m[0]:>11.2f}s{m[1]:>9.2f}s{m[2]:>11.2f}s   {rounds}")
    o = [100 * (med["with"][i] / med["without"][i] - 1) for i in range(3)]
    print(
        f"{'overhead':<28}{o[0]:>+11.1f}%{o[1]:>+9.1f}%{o[2]:>+11.1f}%   (the people pass alone: {people_s:.2f} s "
        "wall, alongside pass 1)"
    )
    print(
        "(on a shared machine wall times vary with other work; the minimum and the CPU time are the steadier)"
    )
    ow, oc = o[0], o[2]
    print(f"arrays with vs without: max abs difference {diff:g} over {', '.join(ARRAYS)}")
    print()
    return {"wall": ow, "cpu": oc, "diff": diff}


def _halves(clip) -> tuple[np.ndarray, np.ndarray]:
    """(detected (T,), nose on the left half (T,)) in source pixels."""
    c = clip.manifest["crop"]
    nose = clip.load("body")[:, 0, 0] / c["scale"] + c["box"][0]
    return clip.load("detected"), nose < 176


def two_people(tmp: Path) -> dict:
    import reenactor.extract as extract_mod

    fr = list(iter_frames(sample_path("carphone")))
    frames = [
        np.ascontiguousarray(np.concatenate([fr[i], fr[(i + 30) % len(fr)]], 1)) for i in range(len(fr))
    ]
    src = tmp / "two_people.mp4"
    write_video(src, frames, fps=29.97)
    t = time.perf_counter()
    ppl = people_mod.find_people(src)
    dt = time.perf_counter() - t
    print("2. carphone | carphone 30 frames ahead (352 x 144, 120 frames), chunks of 32")
    print(f"people pass: {dt:.2f} s, {ppl.runs} detector runs, {len(ppl.tracks)} track(s)")
    for tr in ppl.tracks:
        s = ppl.summary(tr)
        print(
            f"  track {s['id']}: frames {s['first_frame']}-{s['last_frame']} ({s['coverage']:.0%}), "
            f"centre x {s['mean_centre'][0]:.0f}"
        )
    out = {"tracks": len(ppl.tracks)}
    print(f"{'--person':<22}{'track':>6}{'frames with pose':>18}{'on its half':>13}{'switches at':>14}")
    real = extract_mod._people_alongside
    extract_mod._people_alongside = _no_people_pass
    try:
        clip, _, _ = _timed_extract(src, tmp / "two_whole", size=128, chunk=32)
    finally:
        extract_mod._people_alongside = real
    det, left = _halves(clip)
    sw = [i for i in range(1, len(left)) if det[i] and det[i - 1] and left[i] != left[i - 1]]
    out["before"] = sw
    print(
        f"{'(whole frame, before)':<22}{'-':>6}{f'{det.mean():.1%}':>18}{f'{left[det].mean():.0%} left':>13}{str(sw):>14}"
    )
    for side in ("left", "right"):
        clip, _, _ = _timed_extract(src, tmp / f"two_{side}", size=128, chunk=32, person=side)
        det, left = _halves(clip)
        ok = left if side == "left" else ~left
        share = float(ok[det].mean()) if det.any() else 0.0
        sw = [i for i in range(1, len(left)) if det[i] and det[i - 1] and left[i] != left[i - 1]]
        out[side] = share
        tid = clip.manifest["person"]["following"]
        print(f"{side:<22}{tid:>6}{f'{det.mean():.1%}':>18}{f'{share:.1%}':>13}{str(sw):>14}")
    print()
    return out


def vtest(path: Path, tmp: Path) -> dict | None:
    if not path.exists():
        print(f"3. vtest: {path} not found, skipped (pass its path as the first argument)")
        return None
    info = probe(path)
    t = time.perf_counter()
    ppl = people_mod.find_people(path)
    dt = time.perf_counter() - t
    cands = [tr for tr in ppl.tracks if not tr.static]
    summ = sorted((ppl.summary(tr) for tr in cands), key=lambda s: -s["frames_present"])
    print(f"3. {path.name} ({info.width} x {info.height}, {ppl.n_frames} frames at {info.fps:g} fps)")
    print(
        f"people pass: {dt:.1f} s ({1000 * dt / ppl.n_frames:.0f} ms/frame), {ppl.runs} detector runs, "
        f"{len(cands)} track(s) + {len(ppl.tracks) - len(cands)} static"
    )
    print("longest tracks: " + ", ".join(f"{s['id']} ({s['frames_present']} frames)" for s in summ[:8]))
    clip, wall, cpu = _timed_extract(path, tmp / "vtest", size=256)
    m = clip.manifest["person"]
    st = clip.stage("extract")
    det = int(clip.load("detected").sum())
    print(
        f"extract --person auto: {wall:.1f} s (people pass {st['seconds_people']:.1f} s; people + pose passes "
        f"{st['seconds_detect']:.1f} s); "
        f"following track {m['following']}: frames {m['first_frame']}-{m['last_frame']} "
        f"({m['frames_present']} frames, {m['coverage']:.0%} of the video), pose found in {det}, "
        f"{st.get('frames_other_person', 0)} dropped as another person's"
    )
    print()
    return {
        "tracks": len(cands),
        "static": len(ppl.tracks) - len(cands),
        "track": m["following"],
        "frames": m["frames_present"],
        "seconds": dt,
        "pose": det,
    }


def main() -> int:
    vpath = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(os.environ.get("VTEST", "/work/data/vtest.avi"))
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        c = carphone(tmp)
        two = two_people(tmp)
        v = vtest(vpath, tmp)
    same = "identical" if c["diff"] == 0 else f"differ by up to {c['diff']:g}"
    head = (
        f"people pass: carphone {c['wall']:+.1f}% wall / {c['cpu']:+.1f}% CPU (medians), arrays {same}; "
        f"two people: {two['tracks']} tracks, left {two['left']:.0%} / right {two['right']:.0%} on their half "
        f"(whole frame: switched at {two['before']})"
    )
    if v:
        head += f"; vtest: {v['tracks']} tracks ({v['seconds']:.0f} s), auto follows track {v['track']} ({v['frames']} frames)"
    print(head)
    return 0


if __name__ == "__main__":
    sys.exit(main())

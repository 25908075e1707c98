"""Does a trained upper_body frame generator follow its landmark input? (Liu et al. 2019, section 5)

The frame generator draws the frame from the body keypoints (UBKP) and the face-landmark image. On a short
target video both describe the same few frames, so it can recall a frame from the body pose alone and ignore the
landmarks, and then no driver's expression reaches the face. This script asks it directly: for every k-th frame
of a clip (the model's target), the real body pose and the real 68 landmarks *warped* by one expression mode
(:mod:`reenactor.face.expression_warp`: ``jaw``, ``smile``, ``brow``) at a few amplitudes go in; the generated
face is re-measured (``reenactor.metrics.expression``) and set beside what the warped landmarks express (FAUP of
the clip's face mesh moved by the same field). Per mode, the table gives the mode's action unit for the landmarks
and for the generated faces, and the slope of generated on landmark values across amplitudes: 1 = the face does
what its landmarks say, 0 = the landmarks are ignored. Each frame is rendered ``--hold`` times from a reset
generator (its past filled with its own outputs) and the last one is measured.

Run: ``.venv/bin/python experiments/upper_body_follow.py --model RUN/model.safetensors --clip CLIP_DIR``
(about 1 s per rendered frame on 2 cores; default 20 frames x 4 amplitudes x 2 modes). The headline (last line)
is the mean slope over the modes.
"""

from __future__ import annotations

import argparse
import logging
import sys

import numpy as np
import torch
from tqdm import tqdm

from reenactor.data.clipstore import ClipStore
from reenactor.errors import ReenactorError
from reenactor.face.expression_warp import ExpressionField
from reenactor.face.faup import AU_NAMES, add_faup_stage, clip_neutral, faup_from_mesh
from reenactor.methods.upper_body.dataset import KEYPOINTS
from reenactor.methods.upper_body.images import landmark_crops
from reenactor.metrics.expression import faup_of_frames
from reenactor.modelfile import open_model
from reenactor.pose.skeleton import scale_keypoints as scale_kp

#: the action unit each mode moves (see reenactor.face.expression_warp)
MODE_UNIT = {"jaw": "AU26", "smile": "AU12", "brow": "AU2"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, help="exported upper_body model (RUN_DIR/model.safetensors)")
    ap.add_argument(
        "--clip",
        required=True,
        help="a clip of the model's target person (its training clip or "
        "held-out frames of it): body poses, landmarks and face meshes",
    )
    ap.add_argument(
        "--neutral-clip",
        default=None,
        help="clip whose neutral face reference measures FAUP (default: --clip)",
    )
    ap.add_argument(
        "--modes",
        nargs="+",
        default=["jaw", "smile"],
        choices=sorted(MODE_UNIT),
        help="expression modes to warp the landmarks by (jaw: AU26, smile: AU12, brow: AU2)",
    )
    ap.add_argument(
        "--amplitudes",
        nargs="+",
        type=float,
        default=[-0.1, 0.0, 0.15, 0.3],
        help="warp amplitudes, fractions of the inter-ocular distance (jaw: negatives are skipped)",
    )
    ap.add_argument("--frames", type=int, default=20, help="frames measured, evenly spaced over the clip")
    ap.add_argument("--hold", type=int, default=6, help="renders per frame (the generator's past fills up)")
    args = ap.parse_args()

    torch.set_grad_enabled(False)
    clip = ClipStore.open(args.clip)
    neutral = clip_neutral(ClipStore.open(args.neutral_clip) if args.neutral_clip else clip)
    stored = np.asarray(add_faup_stage(clip), np.float32)
    syn = open_model(args.model, method="upper_body").synthesizer
    size = (syn.size[0], syn.size[1])
    kp = {k: np.asarray(clip.load(k, mmap=False), np.float32) for k in KEYPOINTS if clip.has(k)}
    mesh = np.asarray(clip.load("face_raw"), np.float32)
    to_model = np.array([size[1] / clip.size[1], size[0] / clip.size[0]], np.float32)
    frames = np.unique(np.linspace(0, clip.n_frames - 1, min(args.frames, clip.n_frames)).round().astype(int))
    frames = [int(t) for t in frames if (kp["face"][t, 36:48, 2] > 0).all()]

    print(f"model {args.model}\nclip {clip.root} ({len(frames)} frames with a face), hold {args.hold}\n")
    print("| mode | amplitude | unit | landmarks | generated | faces |")
    print("| --- | ---: | --- | ---: | ---: | ---: |")
    slopes = {}
    jobs = [(m, a) for m in args.modes for a in args.amplitudes if not (m == "jaw" and a < 0)]
    bar = tqdm(total=len(jobs) * len(frames), desc="render", leave=False)
    for mode in args.modes:
        unit = AU_NAMES.index(MODE_UNIT[mode])
        xs, ys = [], []
        for amp in [a for m, a in jobs if m == mode]:
            out, want = [], []
            for t in frames:
                face = scale_kp(kp["face"][t], clip.size, size)
                pose = {k: scale_kp(v[t], clip.size, size) for k, v in kp.items() if k != "face"}
                field = ExpressionField(face, {mode: amp})
                crop = landmark_crops(torch.from_numpy(field.move_points(face))[None], syn.crop)[0]
                moved = mesh[t].copy()
                moved[:, :2] += field.at(moved[:, :2] * to_model) / to_model
                want.append(faup_from_mesh(moved, neutral) if np.abs(mesh[t, :, :2]).sum() else stored[t])
                syn.reset()
                for _ in range(args.hold):
                    y = syn.render(pose, crop)
                out.append(y)
                bar.update()
            got, ok = faup_of_frames(out, neutral)
            want = np.asarray(want)
            lm_v, gen_v = (
                float(want[ok, unit].mean()),
                float(got[ok, unit].mean()) if ok.any() else float("nan"),
            )
            xs.append(lm_v)
            ys.append(gen_v)
            tqdm.write(
                f"| {mode} | {amp:+.2f} | {MODE_UNIT[mode]} | {lm_v:.2f} | {gen_v:.2f} | {int(ok.sum())}/{len(out)} |"
            )
        x, y = np.asarray(xs), np.asarray(ys)
        slopes[mode] = (
            float(np.polyfit(x, y, 1)[0])
            if len(x) > 1 and np.ptp(x) > 1e-6 and np.isfinite(y).all()
            else float("nan")
        )
    bar.close()
    print()
    for mode, s in slopes.items():
        print(
            f"{mode}: generated {MODE_UNIT[mode]} changes {s:+.2f} per unit of the landmarks' {MODE_UNIT[mode]}"
        )
    print(
        f"landmark following (mean slope over {', '.join(slopes)}; 1 = follows, 0 = ignores): "
        f"{np.nanmean(list(slopes.values())):+.2f}"
    )


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")  # the library logs its progress
    try:
        main()
    except ReenactorError as e:  # a missing or wrong model / clip: the one message, no traceback
        sys.exit(f"error: {e}")

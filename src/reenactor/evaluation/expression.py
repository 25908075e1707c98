"""Expression transfer across identities: does the target's generated face show the *driver's* expression?

``reenactor benchmark expression --model M --driving D --target CLIP`` transfers ``D`` onto the model's target
person (side-by-side video), then measures (:mod:`reenactor.metrics.expression`):

* the driver's FAUP, from the face meshes the transfer detected in the driving frames, against the driver's
  own neutral reference (their clip's, or for fewer than :data:`MIN_NEUTRAL_FRAMES` distinct faces, e.g. a
  photo, held or not, the fixed :data:`reenactor.face.faup.DEFAULT_NEUTRAL`);
* the generated frames' FAUP (faces re-extracted) against the *target's* neutral reference (from ``CLIP``);
* one reference row, "target's typical face": the target's median training FAUP held constant, i.e. what a
  face that ignores the driver would score. A transfer that works is closer to the driver than that.

A method that clamps the driver's FAUP to the target's training range (upper_body's ``clamp_faup``) is also
scored against the clamped FAUP ("as driven"), which is all it was asked to show.

With several drivers (:func:`run_expression_contrast`, e.g. two photos), each gets its own folder as above, and
``contrast.md`` asks the question the typical-face row cannot answer for a single photo: where two drivers'
expressions differ, do the generated faces differ the same way? Per action unit, the difference of the drivers'
mean FAUP (as driven) beside the difference of the generated faces' mean FAUP, and their correlation over the
17 units (a face that ignores the driver scores about 0, one that follows it up to 1). The target's own bias
(a face that always reads as frowning, say) cancels in the differences.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import numpy as np

from ..data.clipstore import ClipStore
from ..errors import InputError
from ..face.faup import AU_NAMES, DEFAULT_NEUTRAL, FAUP_DIM, N_AU, face_measures, faup_from_measures, has_face
from ..io.atomic import write_json, write_text

logger = logging.getLogger(__name__)

#: fewer driving frames with a face than this: the driver's neutral is DEFAULT_NEUTRAL (a photo has no clip)
MIN_NEUTRAL_FRAMES = 25


def driver_faup(meshes: list[np.ndarray | None]) -> tuple[np.ndarray, np.ndarray, str]:
    """``(faup (T, 20), valid (T,), neutral description)`` of the driving face meshes (None / zeros: no face)."""
    from ..face.faup import neutral_reference

    T = len(meshes)
    meas = np.zeros((T, 15), np.float32)
    pose = np.zeros((T, 3), np.float32)
    valid = np.zeros(T, bool)
    for t, m in enumerate(meshes):
        if m is not None and has_face(np.asarray(m, np.float32)):
            meas[t], pose[t] = face_measures(np.asarray(m, np.float32))
            valid[t] = True
    distinct = np.unique(meas[valid], axis=0) if valid.any() else meas[:0]  # a held photo is one face
    if len(distinct) >= MIN_NEUTRAL_FRAMES:
        neutral, how = neutral_reference(distinct), f"the driver's own ({len(distinct)} distinct faces)"
    else:
        neutral, how = (
            DEFAULT_NEUTRAL,
            (
                f"fixed face proportions (only {len(distinct)} distinct driving face(s); "
                f"{MIN_NEUTRAL_FRAMES} needed for the driver's own)"
            ),
        )
    faup = faup_from_measures(meas, pose, neutral)
    faup[~valid] = 0.0
    return faup, valid, how


def run_expression_benchmark(
    model: str | Path,
    driving: str | Path,
    target: str | Path,
    out_dir: str | Path,
    device: str = "cpu",
    precision: str = "fp32",
    max_frames: int | None = None,
    progress: bool = True,
    body: str = "driver",
    hold: int | None = None,
    expression_warp: bool = True,
) -> dict[str, Any]:
    """Transfer, measure, write ``out_dir/{side_by_side.mp4, results.json, table.md}``; returns the results.

    ``body="target"`` holds the body at the target's own training poses (``transfer(..., body="target")``), so
    only the face is driven: a driver whose body lies outside every training pose (a photo, another framing)
    still gets its expression measured on a frame the model can draw."""
    from ..face.faup import add_faup_stage, clip_neutral
    from ..metrics.expression import expression_errors, faup_of_frames
    from ..modelfile import open_model
    from ..transfer import transfer

    if not ClipStore.is_clip(target):
        raise InputError(
            "--target must be the target person's clip folder (from `reenactor extract`)",
            target,
            "give the clip the model was trained on; its faces give the target's neutral reference",
        )
    clip = ClipStore.open(target)
    if not clip.has("face_raw"):
        raise InputError(
            "the target clip has no face meshes (face_raw)", target, "re-extract it with `reenactor extract`"
        )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t_neutral = clip_neutral(clip)
    t_faup = np.asarray(add_faup_stage(clip), np.float32)
    t_valid = has_face(np.asarray(clip.load("face_raw", mmap=False), np.float32))
    if not t_valid.any():
        raise InputError(
            "no face in the target clip", target, "train and measure on a clip that shows the face"
        )
    typical = np.median(t_faup[t_valid], 0)
    tm = open_model(
        model,
        device=device,
        precision=precision,
        options={"expression_warp": None if expression_warp else False},
    )
    generated: list[np.ndarray] = []
    meshes: list[np.ndarray | None] = []
    transfer(
        tm,
        driving,
        out / "side_by_side.mp4",
        side_by_side=True,
        device=device,
        precision=precision,
        max_frames=max_frames,
        progress=progress,
        save_normalizer=False,
        frame_sink=generated.append,
        body=body,
        hold=hold,
        driving_sink=lambda fr, rec: meshes.append(rec.get("face_raw")),
    )
    d_faup, d_valid, d_how = driver_faup(meshes)
    if not d_valid.any():
        raise InputError(
            "no face found in the driving input", driving, "drive with a video or photo showing a face"
        )
    g_faup, g_valid = faup_of_frames(generated, t_neutral)
    both = d_valid & g_valid
    targets = {"driver": d_faup}
    rng = getattr(tm.synthesizer, "faup_range", None)
    clamped = (
        np.clip(d_faup, rng[0], rng[1]) if rng is not None else d_faup
    )  # what the method was asked to show
    if rng is not None:
        if not np.allclose(clamped[d_valid], d_faup[d_valid]):
            targets["driver, as driven (clamped to the target's range)"] = clamped
    rows = []
    for label, ref in targets.items():
        for who, pred, valid in (
            ("generated", g_faup, both),
            ("target's typical face (reference)", typical, d_valid),
        ):
            e = expression_errors(pred, ref, valid)
            rows.append(
                {
                    "compared": who,
                    "against": label,
                    **{k: e[k] for k in ("au_mae", "pose_mae_deg", "au_corr")},
                    "per_au_mae": e["per_au_mae"],
                }
            )
    # the units the driver shows most (single frames read best this way)
    mean_d = d_faup[d_valid].mean(0)
    mean_g = g_faup[both].mean(0) if both.any() else np.full(FAUP_DIM, math.nan)
    driven = clamped[d_valid].mean(0)
    top = [int(i) for i in np.argsort(-mean_d[:N_AU])[:6]]
    units = [
        {
            "unit": AU_NAMES[i],
            "driver": float(mean_d[i]),
            "generated": float(mean_g[i]),
            "target_typical": float(typical[i]),
            **({"as_driven": float(driven[i])} if rng is not None else {}),
        }
        for i in top
    ]
    pose_rows = [
        {
            "angle": n,
            "driver": float(np.degrees(mean_d[N_AU + k])),
            "generated": float(np.degrees(mean_g[N_AU + k])),
            "target_typical": float(np.degrees(typical[N_AU + k])),
        }
        for k, n in enumerate(("yaw", "pitch", "roll"))
    ]
    res = {
        "model": str(model),
        "driving": str(driving),
        "target": str(target),
        "n_frames": len(generated),
        "driver_neutral": d_how,
        "body": body,
        "driving_faces": int(d_valid.sum()),
        "generated_faces": int(g_valid.sum()),
        "rows": rows,
        "top_units": units,
        "head_pose_deg": pose_rows,
        "mean_faup": {"driver": mean_d.tolist(), "as_driven": driven.tolist(), "generated": mean_g.tolist()},
    }
    text = markdown(res)
    write_json(out / "results.json", res)
    write_text(out / "table.md", text)
    logger.info(text)
    logger.info(
        f"[expression] wrote {out / 'table.md'}, {out / 'results.json'} and {out / 'side_by_side.mp4'}"
    )
    return res


def markdown(res: dict[str, Any]) -> str:
    lines = [
        f"# Expression transfer: {Path(res['driving']).name} -> {Path(res['model']).parent.name or res['model']}",
        "",
        f"{res['n_frames']} frames; a face was found in {res['driving_faces']} driving and {res['generated_faces']} "
        f"generated frames. Driver's neutral reference: {res['driver_neutral']}. Body: "
        + (
            "the target's own training poses (--body target: only the face is driven)"
            if res.get("body") == "target"
            else "the driver's, normalized onto the target"
        )
        + ".",
        "",
        "| compared | against | AU error | AU r | head pose error (deg) |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for r in res["rows"]:
        lines.append(
            f"| {r['compared']} | {r['against']} | {r['au_mae']:.3f} | {r['au_corr']:.2f} | "
            f"{r['pose_mae_deg']:.1f} |"
        )
    as_driven = any("as_driven" in u for u in res["top_units"])
    lines += [
        "",
        "The driver's strongest action units (mean intensity, 0-3):",
        "",
        "| unit | driver |" + (" as driven |" if as_driven else "") + " generated | target's typical |",
        "| --- | ---: |" + (" ---: |" if as_driven else "") + " ---: | ---: |",
    ]
    for u in res["top_units"]:
        lines.append(
            f"| {u['unit']} | {u['driver']:.2f} |"
            + (f" {u['as_driven']:.2f} |" if as_driven else "")
            + f" {u['generated']:.2f} | {u['target_typical']:.2f} |"
        )
    lines += [
        "",
        "| head pose (deg) | driver | generated | target's typical |",
        "| --- | ---: | ---: | ---: |",
    ]
    for p in res["head_pose_deg"]:
        lines.append(
            f"| {p['angle']} | {p['driver']:.1f} | {p['generated']:.1f} | {p['target_typical']:.1f} |"
        )
    lines += [
        "",
        "AU error: mean |difference| of the 17 action units (reenactor.metrics.expression); AU r: their "
        "correlation over time (NaN for a single frame). The reference row holds the target's median training "
        "face constant: a transfer that carries the driver's expression scores below it.",
    ]
    return "\n".join(lines) + "\n"


def driver_label(driving: str | Path) -> str:
    """A short folder-safe name for a driver (file stem)."""
    stem = Path(driving).stem or "driver"
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in stem)


def contrast(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Driver A minus driver B, per action unit: as driven and generated (means over the frames with a face),
    and the correlation of the two difference vectors over the units (NaN if either is constant)."""
    da = np.asarray(a["mean_faup"]["as_driven"][:N_AU]) - np.asarray(b["mean_faup"]["as_driven"][:N_AU])
    dg = np.asarray(a["mean_faup"]["generated"][:N_AU]) - np.asarray(b["mean_faup"]["generated"][:N_AU])
    ok = np.isfinite(dg)
    r = (
        float(np.corrcoef(da[ok], dg[ok])[0, 1])
        if ok.sum() > 2 and da[ok].std() > 0 and dg[ok].std() > 0
        else math.nan
    )
    units = [
        {"unit": AU_NAMES[i], "driven_diff": float(da[i]), "generated_diff": float(dg[i])}
        for i in np.argsort(-np.abs(da))
    ]
    return {"a": a["driving"], "b": b["driving"], "r": r, "units": units}


def run_expression_contrast(
    model: str | Path, drivings: list[str | Path], target: str | Path, out_dir: str | Path, **kw: Any
) -> dict[str, Any]:
    """:func:`run_expression_benchmark` for each driver (into ``out_dir/<driver name>``), then the contrast of
    the first driver against each other one (``out_dir/contrast.md`` and ``contrast.json``)."""
    if len(drivings) < 2:
        raise InputError("a contrast needs at least two drivers", fix="give two or more --driving inputs")
    out = Path(out_dir)
    names: list[str] = []
    for d in drivings:
        n = driver_label(d)
        names.append(n if n not in names else f"{n}_{len(names)}")
    results = [run_expression_benchmark(model, d, target, out / n, **kw) for d, n in zip(drivings, names)]
    pairs = [contrast(results[0], r) for r in results[1:]]
    lines = [
        f"# Expression contrast: {Path(str(model)).parent.name or model}",
        "",
        "Where the drivers' expressions differ, do the generated faces differ the same way? Per action unit "
        "(0-3), driver A minus driver B as driven, beside the generated faces' difference; r: their "
        "correlation over the 17 units (a face that ignores its driver: about 0).",
        "",
    ]
    for n, pair in zip(names[1:], pairs):
        lines += [
            f"## {names[0]} minus {n}: r = {pair['r']:.2f}",
            "",
            "| unit | drivers (as driven) | generated |",
            "| --- | ---: | ---: |",
        ]
        lines += [
            f"| {u['unit']} | {u['driven_diff']:+.2f} | {u['generated_diff']:+.2f} |" for u in pair["units"]
        ]
        lines.append("")
    text = "\n".join(lines)
    write_json(
        out / "contrast.json", {"drivers": [str(d) for d in drivings], "folders": names, "pairs": pairs}
    )
    write_text(out / "contrast.md", text)
    logger.info(text)
    logger.info(f"[expression] wrote {out / 'contrast.md'} and one folder per driver ({', '.join(names)})")
    return {"results": results, "pairs": pairs, "folders": names}

"""The Gradio page of ``reenactor app``: three tabs over :mod:`reenactor.app.jobs`.

The page holds no work: a button starts a job (a subprocess) and a one-second timer reads the job folders
back, so a reload, a second browser or a restart of the app finds every job as it is on disk.
"""

from __future__ import annotations

import html
import os
from pathlib import Path
from typing import Any

from ..errors import ReenactorError
from .jobs import IMAGE_SUFFIXES, POSE_SUFFIXES, VIDEO_SUFFIXES, JobStore, JobView, Workdir

SAMPLE_VIDEOS = ("carphone", "bikes")
SAMPLE_PHOTOS = ("astronaut", "hopper")
NORMALIZATIONS = ("auto", "edn", "edn_upper", "first_frame", "global_alignment", "none")

CSS = """
.rx-error { color: #b00020; white-space: pre-wrap; font-weight: 600; }
.rx-note { color: #555; white-space: pre-wrap; }
.rx-progress progress { width: 100%; height: 18px; }
"""


def offline_env(workdir: Path) -> None:
    """Gradio's settings for a page that never reaches the internet; set before gradio is imported."""
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    os.environ["GRADIO_SSR_MODE"] = "False"
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
    os.environ["DO_NOT_TRACK"] = "1"
    os.environ["GRADIO_TEMP_DIR"] = str(workdir / ".gradio")  # uploads land under the work folder too


def per_person_methods() -> list[str]:
    from ..methods import get_method, method_names
    from ..methods.base import PER_PERSON

    return [n for n in method_names() if get_method(n).kind == PER_PERSON]


def reference_methods() -> list[str]:
    from ..modelfile import untrained_methods

    return list(untrained_methods())


# ---------------------------------------------------------------------------------------------- text
def _err(e: Exception | str) -> str:
    return f'<div class="rx-error" role="alert">error: {html.escape(str(e))}</div>'


def _progress_html(v: JobView | None, elem: str) -> str:
    if v is None:
        return f'<div class="rx-progress" id="{elem}-box">no job yet</div>'
    p = v.progress
    n, total = (p.n, p.total) if p else (0, 0)
    what = html.escape(p.desc) if p else "starting"
    if v.status == "done" and not total:
        n = total = 1
    bar = f'<progress id="{elem}" value="{n}" max="{max(total, 1)}" data-status="{v.status}"></progress>'
    line = (
        f"<b>{html.escape(v.status)}</b> · {what} {n}/{total}" if total else f"<b>{html.escape(v.status)}</b>"
    )
    body = f'<div class="rx-progress" id="{elem}-box">{bar}<div>{line} · job {v.id}</div>'
    if v.error and v.status != "done":
        body += _err(v.error)
    return body + "</div>"


def _notes_md(v: JobView | None) -> str:
    if v is None:
        return ""
    r = v.result
    out = []
    if r.get("normalizer"):
        out.append(f"**Normalization that ran:** `{r['normalizer']}`")
    cov = r.get("coverage")
    if cov:
        out.append(f"**Coverage:** {cov.get('verdict', '')}")
    for line in r.get("notes", []):
        if any(k in line for k in ("normaliz", "coverage", "WARNING", "background", "target:", "audio")):
            out.append(f"- {line}")
    if v.status == "done" and r.get("n_frames"):
        out.append(
            f"{r['n_frames']} frames at {r['fps']:g} fps, rendering {r.get('render_fps', 0):.1f} frames/s"
        )
    return "\n\n".join(out)


def _losses_md(v: JobView | None) -> str:
    if v is None or not v.losses:
        return "losses: none yet"
    keys = [k for k in v.losses[-1] if k != "step"]
    rows = v.losses[-8:]
    head = "| step | " + " | ".join(keys) + " |\n|" + "---|" * (len(keys) + 1) + "\n"
    return head + "\n".join(
        f"| {int(r['step'])} | " + " | ".join(f"{r.get(k, float('nan')):.4g}" for k in keys) + " |"
        for r in rows
    )


def _latest_sample(v: JobView | None) -> str | None:
    if v is None:
        return None
    samples = sorted((v.out / "run" / "samples").glob("step_*.png"))
    return str(samples[-1]) if samples else None


# ---------------------------------------------------------------------------------------------- the page
def build(workdir: Workdir, store: JobStore | None = None):
    import gradio as gr

    store = store or JobStore(workdir)
    wd = workdir

    def job_choices(kind: str, done_only: bool = False) -> list[tuple[str, str]]:
        out = []
        for v in store.list(kind):
            if done_only and v.status != "done":
                continue
            out.append((f"{v.label or v.kind} · {v.status} · {v.id}", v.id))
        return out

    def photo_choices() -> list[tuple[str, str]]:
        out = [(f"sample: {s}", f"sample:{s}") for s in SAMPLE_PHOTOS]
        out += [(p.name, str(p)) for p in wd.uploads(IMAGE_SUFFIXES)]
        return out

    def driving_choices() -> list[tuple[str, str]]:
        out = [(f"sample: {s}", f"sample:{s}") for s in SAMPLE_VIDEOS]
        out += [(p.name, str(p)) for p in wd.uploads(VIDEO_SUFFIXES + POSE_SUFFIXES + IMAGE_SUFFIXES)]
        return out

    def model_choices() -> list[tuple[str, str]]:
        out = [
            (f"{m} (reference: animates a photo, nothing to train)", f"method:{m}")
            for m in reference_methods()
        ]
        for v in store.list("train"):
            if v.status == "done" and Path(v.result.get("model", "")).exists():
                out.append((f"model: {v.label} · {v.id}", f"job:{v.id}"))
        return out

    def get(job_id: str | None) -> JobView | None:
        if not job_id:
            return None
        try:
            return store.get(job_id)
        except ReenactorError:
            return None

    def safe(value: str | None) -> str | None:
        """A path value the page sent back: a sample name, or a file inside the work folder; else None."""
        if not value:
            return None
        if value.startswith("sample:"):
            return value if value.split(":", 1)[1] in SAMPLE_VIDEOS + SAMPLE_PHOTOS else None
        return value if wd.contains(value) and Path(value).is_file() else None

    with gr.Blocks(title="reenactor", analytics_enabled=False) as demo:
        gr.Markdown(
            f"# reenactor\nPose-guided human video synthesis. Work folder: `{wd.root}` "
            "(every upload, job and result lives there; jobs keep running when this page is closed)."
        )
        with gr.Tabs():
            # ------------------------------------------------------------------ Targets
            with gr.Tab("Targets", id="targets"):
                gr.Markdown(
                    "A **video** of one person trains a per-person model (extract, then train, as a background "
                    "job). A **photo** is the target of a reference method (pose_warp): pick it in *Drive*."
                )
                with gr.Row():
                    with gr.Column():
                        t_upload = gr.File(
                            label="target video or photo",
                            file_types=list(VIDEO_SUFFIXES + IMAGE_SUFFIXES),
                            elem_id="target-upload",
                        )
                        with gr.Row():
                            t_sample_video = gr.Button("sample video: carphone", size="sm")
                            t_sample_photo = gr.Button("sample photo: astronaut", size="sm")
                        t_status = gr.HTML(elem_id="target-status")
                        t_video = gr.State(None)
                    with gr.Column():
                        t_method = gr.Dropdown(per_person_methods(), value="cloning", label="method")
                        with gr.Row():
                            t_steps = gr.Number(300, label="steps", precision=0, minimum=1)
                            t_budget = gr.Number(0, label="time budget (s, 0: none)", minimum=0)
                            t_size = gr.Number(128, label="size (px)", precision=0, minimum=16)
                        t_train = gr.Button("extract + train", variant="primary", elem_id="train-start")
                with gr.Row():
                    t_job = gr.Dropdown(job_choices("train"), label="training jobs", elem_id="train-job")
                    t_cancel = gr.Button("cancel", size="sm", elem_id="train-cancel")
                    t_resume = gr.Button("resume", size="sm", elem_id="train-resume")
                t_progress = gr.HTML(_progress_html(None, "train-progress"))
                with gr.Row():
                    t_losses = gr.Markdown("losses: none yet", elem_id="train-losses")
                    t_sample = gr.Image(label="latest sample", type="filepath", interactive=False, height=256)
                t_log = gr.Textbox(label="log", lines=6, max_lines=12, interactive=False, autoscroll=True)

            # ------------------------------------------------------------------ Drive
            with gr.Tab("Drive", id="drive"):
                with gr.Row():
                    with gr.Column():
                        d_model = gr.Dropdown(
                            model_choices(),
                            value="method:pose_warp",
                            label="method or trained model",
                            elem_id="drive-model",
                        )
                        d_photo = gr.Dropdown(
                            photo_choices(),
                            value="sample:astronaut",
                            label="target photo (reference methods)",
                            elem_id="drive-photo",
                        )
                        d_photo_up = gr.File(
                            label="upload a target photo",
                            file_types=list(IMAGE_SUFFIXES),
                            elem_id="drive-photo-upload",
                        )
                    with gr.Column():
                        d_driving = gr.Dropdown(
                            driving_choices(),
                            value="sample:carphone",
                            label="driving video, photo or pose file",
                            elem_id="drive-driving",
                        )
                        d_upload = gr.File(
                            label="upload a driving video, photo or .poses.npz",
                            file_types=list(VIDEO_SUFFIXES + IMAGE_SUFFIXES + POSE_SUFFIXES),
                            elem_id="drive-upload",
                        )
                    with gr.Column():
                        d_norm = gr.Dropdown(list(NORMALIZATIONS), value="auto", label="normalization")
                        d_bg = gr.Textbox("target", label="background (target, driving, #rrggbb)")
                        with gr.Row():
                            d_size = gr.Number(
                                256, label="size (px, reference methods)", precision=0, minimum=16
                            )
                            d_max = gr.Number(0, label="max frames (0: all)", precision=0, minimum=0)
                        d_run = gr.Button("run transfer", variant="primary", elem_id="drive-run")
                d_status = gr.HTML(elem_id="drive-status")
                d_progress = gr.HTML(_progress_html(None, "drive-progress"))
                d_notes = gr.Markdown(elem_id="drive-notes")
                d_job = gr.State(None)
                d_shown = gr.State(None)
                with gr.Row():
                    d_result = gr.Video(label="result", elem_id="drive-result", interactive=False)
                    d_sbs = gr.Video(label="driving | pose | result", elem_id="drive-sbs", interactive=False)

            # ------------------------------------------------------------------ Results
            with gr.Tab("Results", id="results"):
                with gr.Row():
                    r_run = gr.Dropdown(
                        job_choices("transfer", done_only=True), label="past results", elem_id="results-run"
                    )
                    r_refresh = gr.Button("refresh lists", size="sm")
                r_notes = gr.Markdown()
                with gr.Row():
                    r_result = gr.Video(label="result", interactive=False)
                    r_sbs = gr.Video(label="side by side", interactive=False)
                r_files = gr.File(label="downloads", file_count="multiple", interactive=False)
                gr.Markdown("### Evaluate against a ground-truth video (same frame count and size)")
                with gr.Row():
                    r_gt = gr.File(
                        label="ground-truth video", file_types=list(VIDEO_SUFFIXES), elem_id="eval-upload"
                    )
                    r_fast = gr.Checkbox(True, label="fast metrics only (SSIM, PSNR, LPIPS-effnet, TCM)")
                    r_eval = gr.Button("evaluate", variant="primary", elem_id="eval-run")
                r_eval_status = gr.HTML()
                r_eval_job = gr.State(None)
                r_table = gr.Markdown(elem_id="eval-table")
                with gr.Row():
                    r_plot1 = gr.Image(label="metrics", type="filepath", interactive=False)
                    r_plot2 = gr.Image(label="per frame", type="filepath", interactive=False)
                gr.Markdown("### Models and jobs in the work folder")
                r_models = gr.Markdown()
                r_jobs = gr.Markdown()

        timer = gr.Timer(1.0)

        # ------------------------------------------------------------------ Targets handlers
        def on_target_upload(f):
            if not f:
                return gr.update(), None, gr.update()
            try:
                kind = "target"
                saved = wd.save_upload(f, kind, Path(f).name)
            except ReenactorError as e:
                return _err(e), None, gr.update()
            if saved.name.lower().endswith(IMAGE_SUFFIXES):
                return (
                    f"photo <b>{html.escape(saved.name)}</b> saved: chosen as the target photo in <i>Drive</i>",
                    None,
                    gr.update(choices=photo_choices(), value=str(saved)),
                )
            return (
                f"video <b>{html.escape(saved.name)}</b> saved: press <i>extract + train</i>",
                str(saved),
                gr.update(),
            )

        t_upload.upload(on_target_upload, t_upload, [t_status, t_video, d_photo])
        t_sample_video.click(
            lambda: ("sample video <b>carphone</b> chosen", "sample:carphone"), None, [t_status, t_video]
        )
        t_sample_photo.click(
            lambda: (
                "sample photo <b>astronaut</b> chosen as the target photo in <i>Drive</i>",
                gr.update(value="sample:astronaut"),
            ),
            None,
            [t_status, d_photo],
        )

        def on_train(video, method, steps, budget, size):
            video = safe(video)
            if not video:
                return _err("choose a target video first (upload one or pick the sample)"), gr.update()
            name = Path(video.split(":", 1)[1] if video.startswith("sample:") else video).stem
            params = {
                "video": video,
                "method": method,
                "steps": int(steps or 1),
                "budget": float(budget or 0),
                "size": int(size or 128),
            }
            v = store.create("train", params, label=f"{method} on {name}")
            return f"training job {v.id} started", gr.update(choices=job_choices("train"), value=v.id)

        t_train.click(on_train, [t_video, t_method, t_steps, t_budget, t_size], [t_status, t_job])

        def control(job_id, what):
            v = get(job_id)
            if v is None:
                return _err("choose a training job")
            try:
                (store.cancel if what == "cancel" else store.resume)(v.id)
            except ReenactorError as e:
                return _err(e)
            return f"{what} sent to job {v.id}"

        t_cancel.click(lambda j: control(j, "cancel"), t_job, t_status)
        t_resume.click(lambda j: control(j, "resume"), t_job, t_status)

        # ------------------------------------------------------------------ Drive handlers
        def on_drive_upload(f):
            if not f:
                return gr.update(), gr.update()
            try:
                saved = wd.save_upload(f, "driving", Path(f).name)
            except ReenactorError as e:
                return _err(e), gr.update()
            return f"driving input <b>{html.escape(saved.name)}</b> saved and chosen", gr.update(
                choices=driving_choices(), value=str(saved)
            )

        d_upload.upload(on_drive_upload, d_upload, [d_status, d_driving])

        def on_photo_upload(f):
            if not f:
                return gr.update(), gr.update()
            try:
                saved = wd.save_upload(f, "photo", Path(f).name)
            except ReenactorError as e:
                return _err(e), gr.update()
            return f"target photo <b>{html.escape(saved.name)}</b> saved and chosen", gr.update(
                choices=photo_choices(), value=str(saved)
            )

        d_photo_up.upload(on_photo_upload, d_photo_up, [d_status, d_photo])

        def on_run(model, photo, driving, norm, bg, size, max_frames):
            drv = safe(driving)
            if not drv:
                return _err("choose a driving input (upload one or pick a sample)"), None, None
            params: dict[str, Any] = {
                "driving": drv,
                "normalization": norm,
                "max_frames": int(max_frames or 0) or None,
            }
            if (model or "").startswith("method:"):
                params["method"] = model.split(":", 1)[1]
                ph = safe(photo)
                if not ph:
                    return _err("choose a target photo for a reference method"), None, None
                params.update(target_image=ph, size=int(size or 256), background=(bg or "target").strip())
                label = f"{params['method']} · {Path(ph).name} ← {Path(drv).name}"
            else:
                tv = get((model or "").split(":", 1)[-1])
                if tv is None or tv.status != "done":
                    return _err("choose a finished trained model"), None, None
                params["model"] = tv.result["model"]
                label = f"{tv.label} ← {Path(drv).name}"
            v = store.create("transfer", params, label=label)
            return f"transfer job {v.id} started", v.id, None

        d_run.click(
            on_run, [d_model, d_photo, d_driving, d_norm, d_bg, d_size, d_max], [d_status, d_job, d_shown]
        )

        # ------------------------------------------------------------------ Results handlers
        def show_result(job_id):
            v = get(job_id)
            if v is None or v.status != "done":
                return "", None, None, None
            r = v.result
            files = [
                p
                for p in (r.get("result"), r.get("side_by_side"), r.get("normalizer_file"))
                if p and Path(p).exists()
            ]
            return _notes_md(v), r.get("result"), r.get("side_by_side"), files

        r_run.change(show_result, r_run, [r_notes, r_result, r_sbs, r_files])

        def lists():
            models = ["| model | method | kind | size | steps |", "|---|---|---|---|---|"]
            from ..modelfile import model_info

            for v in store.list("train"):
                m = v.result.get("model")
                if v.status == "done" and m and Path(m).exists():
                    try:
                        info = model_info(m)
                        steps = (info.get("training") or {}).get("steps")
                        models.append(
                            f"| `{Path(m).relative_to(wd.root)}` | {info['method']} | {info['kind']} | {info['frame_size']} | {steps} |"
                        )
                    except ReenactorError as e:
                        models.append(f"| `{m}` | unreadable: {e} | | | |")
            jobs = ["| job | kind | status | what |", "|---|---|---|---|"]
            jobs += [f"| {v.id} | {v.kind} | {v.status} | {v.label} |" for v in store.list()]
            return (
                "\n".join(models) if len(models) > 2 else "no trained model yet",
                "\n".join(jobs),
                gr.update(choices=job_choices("transfer", done_only=True)),
                gr.update(choices=model_choices()),
                gr.update(choices=job_choices("train")),
            )

        r_refresh.click(lists, None, [r_models, r_jobs, r_run, d_model, t_job])
        demo.load(lists, None, [r_models, r_jobs, r_run, d_model, t_job])

        def on_eval(job_id, gt, fast):
            v = get(job_id)
            if v is None or v.status != "done":
                return _err("choose a past result first"), None
            if not gt:
                return _err("upload the ground-truth video"), None
            try:
                saved = wd.save_upload(gt, "video", Path(gt).name)
            except ReenactorError as e:
                return _err(e), None
            e = store.create(
                "evaluate",
                {"pred": v.result["result"], "gt": str(saved), "fast": bool(fast)},
                label=f"evaluate {v.id}",
            )
            return f"evaluation job {e.id} started", e.id

        r_eval.click(on_eval, [r_run, r_gt, r_fast], [r_eval_status, r_eval_job])

        # ------------------------------------------------------------------ polling
        def tick(train_id, drive_id, shown, eval_id):
            tv, dv, ev = get(train_id), get(drive_id), get(eval_id)
            out: list[Any] = [
                _progress_html(tv, "train-progress"),
                _losses_md(tv),
                _latest_sample(tv) if tv is not None else gr.update(),
                tv.log if tv is not None else gr.update(),
                _progress_html(dv, "drive-progress") if dv is not None else gr.update(),
                _notes_md(dv) if dv is not None else gr.update(),
            ]
            if (
                dv is not None and dv.status == "done" and shown != dv.id
            ):  # set the videos once, not every tick
                out += [dv.result.get("result"), dv.result.get("side_by_side"), dv.id]
            else:
                out += [gr.update(), gr.update(), gr.update()]
            if ev is not None:
                out.append(_progress_html(ev, "eval-progress"))
                rep = Path(ev.result.get("report", "")) if ev.status == "done" else None
                if rep is not None and rep.is_dir():
                    md = (rep / "report.md").read_text() if (rep / "report.md").exists() else ""
                    p1, p2 = rep / "metrics.png", rep / "per_frame.png"
                    out += [md, str(p1) if p1.exists() else None, str(p2) if p2.exists() else None]
                else:
                    out += [gr.update(), gr.update(), gr.update()]
            else:
                out += [gr.update()] * 4
            return out

        timer.tick(
            tick,
            [t_job, d_job, d_shown, r_eval_job],
            [
                t_progress,
                t_losses,
                t_sample,
                t_log,
                d_progress,
                d_notes,
                d_result,
                d_sbs,
                d_shown,
                r_eval_status,
                r_table,
                r_plot1,
                r_plot2,
            ],
            show_progress="hidden",
        )
    return demo


def theme():
    import gradio as gr

    # system fonts only: the default theme would fetch its fonts from Google Fonts
    return gr.themes.Default(
        font=["ui-sans-serif", "system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"]
    )


def serve(
    host: str = "127.0.0.1",
    port: int = 7860,
    workdir: str | Path = "reenactor_app",
    max_upload_mb: float = 500,
    quiet: bool = False,
):
    """Build the page on ``workdir`` and serve it (blocks)."""
    wd = Workdir(workdir, max_upload_mb)
    offline_env(wd.root)
    demo = build(wd)
    demo.queue(default_concurrency_limit=8)
    demo.launch(
        server_name=host,
        server_port=port,
        share=False,
        ssr_mode=False,
        mcp_server=False,
        pwa=False,
        inbrowser=False,
        allowed_paths=[str(wd.root)],
        max_file_size=f"{int(max_upload_mb)}mb",
        theme=theme(),
        css=CSS,
        quiet=quiet,
        footer_links=[],
        enable_monitoring=False,
    )

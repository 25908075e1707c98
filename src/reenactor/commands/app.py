"""``reenactor app``: the whole workflow (targets, training, driving, results, evaluation) in a web page."""

from __future__ import annotations

import argparse

EPILOG = """\
needs the app extra: pip install "reenactor[app]" (Gradio; runs offline: no analytics, no server-side rendering,
no share link, system fonts).

every upload, job and result is kept under --workdir: jobs (extract, train, transfer, evaluate) run as their own
processes with their state in WORKDIR/jobs/ID/, so they keep running when the page is closed or reloaded, and
the page (or a restarted app) picks them up again.

examples:
  reenactor app                                  # http://127.0.0.1:7860, work folder ./reenactor_app
  reenactor app --workdir ~/reenactor --port 8080
  reenactor app --host 0.0.0.0                   # reachable from other machines: anyone who can reach it can use it
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    from ._args import positive_int

    p = sub.add_parser(
        "app",
        help="the whole workflow in a web page (Gradio; needs the app extra)",
        description="Serve a web page on the library: Targets (upload a video to extract and train a per-person "
        "model as a background job, or a photo for reference methods), Drive (run a transfer, see the "
        "normalization and coverage), Results (play, download, evaluate against ground truth, list past runs "
        "and models).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default: 127.0.0.1, this machine only; 0.0.0.0 opens it to the network, "
        "without any login)",
    )
    p.add_argument("--port", type=positive_int, default=7860, help="TCP port to listen on (default: 7860)")
    p.add_argument(
        "--workdir",
        default="reenactor_app",
        metavar="DIR",
        help="the work folder: the only place the app writes (uploads, jobs, clip stores, runs, results); "
        "created if missing, reused as it is (default: ./reenactor_app)",
    )
    p.add_argument(
        "--max-upload-mb",
        type=positive_int,
        default=500,
        metavar="MB",
        help="largest file an upload may be, in megabytes (default: 500)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import importlib.util

    from ..errors import ReenactorError

    if importlib.util.find_spec("gradio") is None:
        raise ReenactorError(
            "the app needs Gradio, which is not installed", fix='pip install "reenactor[app]"'
        )
    from ..app.ui import serve

    print(
        f"reenactor app: http://{args.host}:{args.port}  (work folder {args.workdir}; Ctrl-C stops the page, not its jobs)"
    )
    serve(args.host, args.port, args.workdir, args.max_upload_mb)
    return 0

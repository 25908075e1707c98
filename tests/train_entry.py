"""Entry point for subprocess/torchrun tests: `reenactor` with the tiny test method made available.

TINY_STALL_AFTER=N makes the run stall (sleep) after step N, after writing RUN_DIR/stalled, so a test can
kill it mid-run with SIGKILL. TINY_SCHEDULE_LOG=PATH: each rank appends the fractions Method.schedule is given
to PATH.rankR."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from tiny_method import patch_registry  # noqa: E402

patch_registry()

stall = int(os.environ.get("TINY_STALL_AFTER", "0"))
if stall:
    import reenactor.train.trainer as tr

    orig_init = tr.Trainer.__init__

    def _init(self, *a, **k):
        orig_init(self, *a, **k)

        def cb(trainer, logs):
            if trainer.step == stall:
                (trainer.run_dir / "stalled").write_text(str(trainer.step))
                time.sleep(600)

        self.callbacks.append(cb)

    tr.Trainer.__init__ = _init

schedule_log = os.environ.get("TINY_SCHEDULE_LOG")
if schedule_log:  # each rank writes the run fractions Method.schedule was given, one per line
    from tiny_method import TinyMethod

    def _schedule(self, fraction):
        with open(f"{schedule_log}.rank{os.environ.get('RANK', '0')}", "a") as f:
            f.write(f"{fraction!r}\n")

    TinyMethod.schedule = _schedule

from reenactor.cli import main  # noqa: E402

sys.exit(main())

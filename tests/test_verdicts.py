"""Plain verdicts (issue 23): `coverage` and `transfer` share one computation and print the same sentence; transfer
refuses a driver most of whose frames cannot be rendered, and a normalization fit that is plainly broken, with a
message naming the numbers and the fix (exit 2, nothing written) unless --force; the README's bikes example."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from _cloning_fixtures import _one_torch_thread, export_untrained, make_clip, skeleton  # noqa: F401 - autouse fixture
from reenactor.cli import main
from reenactor.data.clipstore import ClipStore
from reenactor.errors import InputError
from reenactor.pose.normalize import Normalizer, check_fit
from reenactor.transfer import transfer

SIZE = 32


def clip_of(root: Path, bodies: np.ndarray) -> ClipStore:
    """A clip store holding exactly these body poses (frames: black)."""
    n = len(bodies)
    store = ClipStore.create(root, source="synthetic", fps=10.0, n_frames=n, size=[SIZE, SIZE])
    store.save("frames", np.zeros((n, SIZE, SIZE, 3), np.uint8), stage="extract")
    store.save("body", bodies.astype(np.float32), stage="extract")
    for k, j in (("face", 68), ("hand_left", 21), ("hand_right", 21)):
        store.save(k, np.zeros((n, j, 3), np.float32), stage="extract")
    store.set_stage("extract", n_frames=n)
    return store


def waving(n: int, phase: float = 0.0, scale: float = 1.0, amp: float = 1.0) -> np.ndarray:
    return np.stack([skeleton(amp * 0.5 * i, SIZE, phase, scale) for i in range(n)])


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("verdicts")
    target = make_clip(root / "target", n=16)
    model = export_untrained("nearest_neighbor", root / "nn.safetensors", [target])
    return root, target, model


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def test_coverage_and_transfer_agree_on_the_same_pair(setup, tmp_path, capsys, logged):
    """Same frames with a person, same off-screen and no-person counts, same normalization numbers, same verdict:
    with the model file as the reference, and with the clip it was trained on."""
    _, target, model = setup
    bodies = waving(24, phase=1.0, scale=0.8, amp=3.0)  # wider waves than the target's: some frames unseen
    bodies[:3, :, 2] = 0  # no person
    bodies[3:5, :, 0] += 300  # far to the right: off-screen after normalization
    drv = clip_of(tmp_path / "drv", bodies)
    res = transfer(model, drv.root, tmp_path / "out.mp4", progress=False)
    printed = logged()
    cov = res.coverage
    line = next(x for x in printed.splitlines() if x.startswith("[transfer] coverage: "))
    assert line == f"[transfer] coverage: {cov['verdict']}" and len(line) < 300
    assert cov["counts"]["no_person"] == 3 and cov["counts"]["off_screen"] == 2 and cov["n_frames"] == 24
    assert cov["verdict"].startswith(
        "3 of 24 driving frames show no person; 2 more show a person only outside"
    )
    saved = json.loads((tmp_path / "out.normalizer.json").read_text())["normalizer"]
    for ref in (str(model), str(target.root)):
        out = tmp_path / f"cov_{Path(ref).stem}"
        assert main(["coverage", "--reference", ref, "--driving", str(drv.root), "-o", str(out)]) == 0
        s = json.loads((out / "summary.json").read_text())
        assert s["counts"] == cov["counts"] and s["n_frames_with_pose"] == cov["n_frames_with_pose"] == 21
        assert s["verdict"] == cov["verdict"]
        assert s["normalizer"]["kind"] == saved["kind"] == "edn_upper"
        for k in ("scale", "tx", "ty"):
            assert s["normalizer"]["params"][k] == pytest.approx(saved["params"][k], abs=1e-9)
        assert f"verdict: {cov['verdict']}" in capsys.readouterr().out


def test_transfer_refuses_a_driver_it_cannot_render(setup, tmp_path, logged):
    _, _, model = setup
    bodies = waving(10)
    bodies[:6, :, 2] = 0  # 6 of 10 frames without a person
    drv = clip_of(tmp_path / "drv", bodies)
    out = tmp_path / "o" / "out.mp4"
    (tmp_path / "o").mkdir()
    with pytest.raises(InputError) as e:
        transfer(model, drv.root, out, progress=False)
    msg = str(e.value)
    assert "most driving frames cannot be rendered: 6 of 10 driving frames show no person" in msg
    assert "nothing was written" in msg and "--force" in msg and "--normalization" in msg
    assert _tree(tmp_path / "o") == set()  # neither the video nor the normalizer file
    logged()
    res = transfer(model, drv.root, out, progress=False, force=True)
    assert res.n_frames == 10 and out.is_file()
    printed = logged()
    assert "WARNING (--force)" in printed and "6 of 10 driving frames show no person" in printed


def test_a_plainly_broken_normalization_is_refused(setup, tmp_path, capsys):
    """The check judges the outcome, not the fitted number: a driving figure 20 times smaller than the target's
    is scaled up (scale ~20) and renders - that is what normalization is for; a transform that draws the driver
    at a fraction of a pixel, or far off the frame, is refused with the numbers, unless --force."""
    _, _, model = setup
    drv = clip_of(tmp_path / "drv", waving(10, scale=0.05))
    out = tmp_path / "o" / "out.mp4"
    (tmp_path / "o").mkdir()
    res = transfer(model, drv.root, out, progress=False)
    assert (
        res.n_frames == 10
        and json.loads(res.normalizer_path.read_text())["normalizer"]["params"]["scale"] > 15
    )
    body = waving(5)
    assert (
        check_fit(Normalizer("edn_upper", {"scale": 1.2, "tx": 3.0, "ty": -2.0}), body, (32, 32), (32, 32))
        == []
    )
    assert (
        check_fit(
            Normalizer("edn_upper", {"scale": 20.0, "tx": 0.0, "ty": 0.0}), body * 0.05, (32, 32), (32, 32)
        )
        == []
    )
    assert check_fit(Normalizer.identity(), body * 50, (32, 32), (32, 32)) == []
    tiny = check_fit(
        Normalizer("edn_upper", {"scale": 0.001, "tx": 16.0, "ty": 16.0}), body, (32, 32), (32, 32)
    )
    assert len(tiny) == 1 and "scale 0.001 draws the driving person" in tiny[0] and "0.02 to 10" in tiny[0]
    far = check_fit(Normalizer("edn_upper", {"scale": 1.0, "tx": 200.0, "ty": 0.0}), body, (32, 32), (32, 32))
    assert len(far) == 1 and "translation (200, 0)" in far[0] and "far outside the 32x32 frame" in far[0]


@pytest.mark.slow
def test_the_readme_bikes_example_is_refused_with_the_fix(carphone_clip, tmp_path, capsys, logged):
    """`reenactor transfer --model M --driving sample:bikes --side-by-side` on a 128 px carphone model (the old
    README's headline example): bikes.mp4 is a montage of far-away people with scene cuts, which used to render a
    noise texture with exit 0. Now: exit 2, one message naming the numbers, --normalization and --force, no
    traceback, nothing written; its first 60 frames, rendered, get one plain verdict."""
    model = export_untrained(
        "nearest_neighbor", tmp_path / "nn.safetensors", [carphone_clip], conf={"size": 128}
    )
    out = tmp_path / "out" / "bikes.mp4"
    out.parent.mkdir()
    rc = main(
        [
            "transfer",
            "--model",
            str(model),
            "--driving",
            "sample:bikes",
            "-o",
            str(out),
            "--side-by-side",
            "--no-progress",
        ]
    )
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err and err.startswith("error: ")
    # extraction follows one cyclist through the montage (--person auto picks the most present one): the frames
    # of the other scenes do not show that person
    assert "cannot be rendered: 208 of 250 driving frames show no person: 83 % of the result would be" in err
    assert "\n  fix: " in err and "--normalization" in err and "--force" in err
    assert _tree(out.parent) == set()
    # the first 60 frames render (less than half of them are empty), with one plain verdict over all of them
    res = transfer(model, "sample:bikes", out, progress=False, max_frames=60)
    printed = logged()
    verdict = next(x for x in printed.splitlines() if x.startswith("[transfer] coverage: "))
    assert len(verdict) < 300 and "15 of 60 driving frames show no person" in verdict
    assert "lie outside what the model has seen: expect artifacts there" in verdict
    assert res.coverage["n_frames"] == 60 and sum(res.coverage["counts"].values()) == 60

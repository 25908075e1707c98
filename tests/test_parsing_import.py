"""Imported parsings (``reenactor layout CLIP --from DIR``): round trips through every label set, indexed and
RGB, at the stored and at the source frame size; each mistake is one clear error naming the file."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from reenactor.data.clipstore import ClipStore
from reenactor.errors import InputError
from reenactor.parsing.importer import import_layouts
from reenactor.parsing.labels import ATR, CIHP, IMPORT_SETS, LAYOUT, LIP

T, S = 4, 32
SRC_H, SRC_W = 48, 80
BOX = [8, -8, 72, 56]  # a 64 px square reaching 8 px above the frame -> 32 px: scale 0.5


def _clip(root, with_mask: bool = True) -> ClipStore:
    clip = ClipStore.create(
        root,
        n_frames=T,
        fps=10.0,
        size=[S, S],
        source_size=[SRC_H, SRC_W],
        crop={"mode": "person", "box": BOX, "scale": 0.5},
    )
    clip.save("frames", np.zeros((T, S, S, 3), np.uint8), stage="extract")
    if with_mask:
        mask = np.zeros((T, S, S), np.uint8)
        mask[:, 4:28, 6:26] = 255
        clip.save("mask", mask, stage="extract")
    clip.set_stage("extract", status="done")
    return clip


def _labels(ls, h: int, w: int, seed: int = 0, block: int = 4, exclude=()) -> np.ndarray:
    """(T, h, w) labels of set ``ls`` constant on ``block`` x ``block`` tiles, every label used."""
    rng = np.random.default_rng(seed)
    allowed = np.array([k for k in range(len(ls)) if k not in exclude])
    tiles = rng.choice(allowed, size=(T, -(-h // block), -(-w // block)))
    tiles.reshape(-1)[: len(allowed)] = allowed  # each label at least once
    return np.repeat(np.repeat(tiles, block, 1), block, 2)[:, :h, :w].astype(np.uint8)


def _write(folder, labels: np.ndarray, ls, how: str, names=None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for t, lab in enumerate(labels):
        name = names[t] if names else f"frame_{t}.png"
        if how == "rgb":
            Image.fromarray(ls.colourize(lab)).save(folder / name)
        elif how == "palette":
            im = Image.fromarray(lab, mode="L").convert("P")
            im.putpalette(ls.palette.reshape(-1).tolist())
            im.save(folder / name)
        else:  # grey
            Image.fromarray(lab, mode="L").save(folder / name)


@pytest.mark.parametrize("name", ["cihp", "lip", "atr", "layout"])
@pytest.mark.parametrize("how", ["palette", "rgb"])
def test_round_trip_at_the_stored_size(tmp_path, name, how):
    ls = IMPORT_SETS[name]
    labels = _labels(ls, S, S, seed=len(name))
    _write(tmp_path / "png", labels, ls, how)
    clip = _clip(tmp_path / "clip")
    out = import_layouts(clip, tmp_path / "png", label_set=name)
    assert out.shape == (T, S, S) and out.dtype == np.uint8
    assert np.array_equal(out, ls.map_to_layout(labels))
    st = ClipStore.open(clip.root).stage("layout")
    assert st["status"] == "done" and st["source"] == "imported" and st["label_set"] == name
    assert st["read_by"] == ("colour" if how == "rgb" else "index") and st["parsed_on"] == "stored"
    assert np.array_equal(ClipStore.open(clip.root).load("layout"), out)


@pytest.mark.parametrize(
    "name, how, expect",
    [
        ("cihp", "rgb", "cihp"),
        ("cihp", "palette", "cihp"),  # the LIP/CIHP colours embedded in the palette say CIHP
        ("layout", "rgb", "layout"),  # hand colours: only our own set has them
        ("layout", "palette", "layout"),
        ("atr", "rgb", "atr"),  # ATR's VOC colours are mostly in no other palette
        ("lip", "rgb", "cihp"),  # same colours as CIHP: read as CIHP (same labels without label 10)
    ],
)
def test_auto_detects_the_label_set(tmp_path, name, how, expect):
    ls = IMPORT_SETS[name]
    labels = _labels(ls, S, S, seed=3, exclude=(10,) if name == "lip" else ())
    _write(tmp_path / "png", labels, ls, how)
    clip = _clip(tmp_path / "clip")
    out = import_layouts(clip, tmp_path / "png")
    assert np.array_equal(out, ls.map_to_layout(labels))
    assert clip.stage("layout")["label_set"] == expect and clip.stage("layout")["label_set_auto"]


def test_auto_refuses_indices_that_do_not_say_their_set(tmp_path):
    """SCHP writes VOC-palette PNGs for LIP and ATR alike: indices 0..17 read differently, so auto asks."""
    labels = _labels(ATR, S, S, seed=1)
    _write(tmp_path / "png", labels, ATR, "palette")
    clip = _clip(tmp_path / "clip")
    with pytest.raises(InputError) as e:
        import_layouts(clip, tmp_path / "png")
    assert "--label-set" in str(e.value) and "atr" in str(e.value)
    assert not clip.has("layout")
    # named, it imports; an index of 18 or more cannot be ATR's, so a LIP grey PNG with one needs no name
    assert np.array_equal(import_layouts(clip, tmp_path / "png", label_set="atr"), ATR.map_to_layout(labels))
    lip = _labels(LIP, S, S, seed=2, exclude=(10,))
    _write(tmp_path / "grey", lip, LIP, "grey")
    out = import_layouts(clip, tmp_path / "grey", force=True)
    assert np.array_equal(out, LIP.map_to_layout(lip)) and clip.stage("layout")["label_set"] == "cihp"


@pytest.mark.parametrize("how", ["palette", "rgb"])
def test_source_size_parsings_follow_the_recorded_crop(tmp_path, how):
    src = _labels(CIHP, SRC_H, SRC_W, seed=5, block=2)
    _write(tmp_path / "png", src, CIHP, how)
    clip = _clip(tmp_path / "clip")
    out = import_layouts(clip, tmp_path / "png", label_set="cihp")
    # stored pixel (i, j) shows source pixel (BOX_y0 + 2 i + 1, BOX_x0 + 2 j + 1): nearest, pixel centres
    expect = np.zeros((T, S, S), np.uint8)
    for i in range(S):
        for j in range(S):
            y, x = BOX[1] + 2 * i + 1, BOX[0] + 2 * j + 1
            if 0 <= y < SRC_H and 0 <= x < SRC_W:
                expect[:, i, j] = src[:, y, x]
    assert np.array_equal(out, expect)
    assert (out[:, :4] == 0).all()  # the 8 source rows above the frame: background
    assert clip.stage("layout")["parsed_on"] == "source"


def test_a_wrong_size_is_one_error_naming_the_file(tmp_path):
    labels = _labels(CIHP, 30, 30)
    _write(tmp_path / "png", labels, CIHP, "rgb")
    clip = _clip(tmp_path / "clip")
    with pytest.raises(InputError) as e:
        import_layouts(clip, tmp_path / "png")
    msg = str(e.value)
    assert "frame_0.png" in msg and "30x30" in msg and "80x48" in msg and "32x32" in msg and "fix:" in msg
    assert not clip.has("layout") and clip.stage("layout") is None


def test_an_unknown_colour_is_one_error_naming_the_file_and_colour(tmp_path):
    labels = _labels(CIHP, S, S)
    _write(tmp_path / "png", labels, CIHP, "rgb")
    bad = np.asarray(Image.open(tmp_path / "png" / "frame_2.png")).copy()
    bad[5, 7] = (1, 2, 3)
    Image.fromarray(bad).save(tmp_path / "png" / "frame_2.png")
    clip = _clip(tmp_path / "clip")
    for label_set in ("auto", "cihp"):
        with pytest.raises(InputError) as e:
            import_layouts(clip, tmp_path / "png", label_set=label_set)
        msg = str(e.value)
        assert "frame_2.png" in msg and "(1, 2, 3)" in msg and "cihp" in msg and "fix:" in msg
    assert not clip.has("layout")


def test_an_index_beyond_the_set_names_the_file(tmp_path):
    labels = _labels(ATR, S, S)
    labels[1, 0, 0] = 20  # ATR has 18 labels
    _write(tmp_path / "png", labels, ATR, "grey")
    with pytest.raises(InputError) as e:
        import_layouts(_clip(tmp_path / "clip"), tmp_path / "png", label_set="atr")
    assert "frame_1.png" in str(e.value) and "20" in str(e.value) and "atr" in str(e.value)


def test_count_order_and_folder_errors(tmp_path):
    clip = _clip(tmp_path / "clip")
    labels = _labels(CIHP, S, S)
    _write(tmp_path / "three", labels[:3], CIHP, "rgb")
    with pytest.raises(InputError) as e:
        import_layouts(clip, tmp_path / "three")
    assert "3 PNG files" in str(e.value) and f"{T} frames" in str(e.value)
    with pytest.raises(InputError, match="not found"):
        import_layouts(clip, tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no .png files"):
        import_layouts(clip, tmp_path / "empty")
    # numbers in names sort as numbers: f1, f2, f10, f11 (by characters f10 would come before f2)
    names = ["f2.png", "f10.png", "f1.png", "f11.png"]
    _write(tmp_path / "nat", labels[[1, 2, 0, 3]], CIHP, "rgb", names=names)
    (tmp_path / "nat" / "notes.txt").write_text("ignored")
    out = import_layouts(clip, tmp_path / "nat", label_set="cihp")
    assert np.array_equal(out, CIHP.map_to_layout(labels))


def test_mixed_png_kinds_are_refused(tmp_path):
    labels = _labels(CIHP, S, S)
    _write(tmp_path / "png", labels, CIHP, "rgb")
    _write(tmp_path / "p", labels[:1], CIHP, "palette")
    (tmp_path / "p" / "frame_0.png").replace(tmp_path / "png" / "frame_3.png")
    with pytest.raises(InputError) as e:
        import_layouts(_clip(tmp_path / "clip"), tmp_path / "png")
    assert "frame_3.png" in str(e.value) and "RGB" in str(e.value)


def test_rerun_skips_force_replaces_and_the_mask_is_not_applied(tmp_path):
    clip = _clip(tmp_path / "clip")
    a = _labels(LAYOUT, S, S, seed=1)
    b = _labels(LAYOUT, S, S, seed=2)
    _write(tmp_path / "a", a, LAYOUT, "rgb")
    _write(tmp_path / "b", b, LAYOUT, "rgb")
    clip.save("layout", np.zeros((T, S, S), np.uint8), stage="layout")
    clip.set_stage("layout", status="done", source="estimated", skin_model="x")
    out = import_layouts(clip, tmp_path / "a")  # an estimated layout is replaced without force
    st = clip.stage("layout")
    assert np.array_equal(out, a) and st["source"] == "imported" and "skin_model" not in st
    # kept as is: labels outside the person mask stay, and their share is recorded
    outside = ((a > 0) & (np.asarray(clip.load("mask")) < 128)).sum() / (a > 0).sum()
    assert st["outside_mask_fraction"] == pytest.approx(outside, abs=1e-4) and outside > 0.3
    import_layouts(clip, tmp_path / "a")  # the same import again: skipped
    assert clip.stage("layout") is st
    with pytest.raises(InputError) as e:
        import_layouts(clip, tmp_path / "b")
    assert "--force" in str(e.value) and str(tmp_path / "a") in str(e.value)
    assert np.array_equal(import_layouts(clip, tmp_path / "b", force=True), b)
    assert ClipStore.open(clip.root).stage("layout")["folder"] == str((tmp_path / "b").resolve())


def test_cli_imports_a_source_size_parsing_of_carphone_and_renders_it(clip_copy, tmp_path, capsys):
    from reenactor.cli import main
    from reenactor.io.video import probe

    clip = clip_copy
    h, w = clip.manifest["source_size"]
    x0, y0, x1, _ = clip.manifest["crop"]["box"]
    s = clip.size[0]
    # a coarse parsing of the source frames: face box, upper clothes below it, background elsewhere
    src = np.zeros((clip.n_frames, h, w), np.uint8)
    src[:, h // 2 :, :] = CIHP.index("upper_clothes")
    src[:, 10 : h // 2, w // 3 : 2 * w // 3] = CIHP.index("face")
    folder = tmp_path / "schp"
    _write(folder, src, CIHP, "palette", names=[f"{i:05d}.png" for i in range(clip.n_frames)])

    assert main(["render", str(clip.root), "--layout", "-o", str(tmp_path / "none.mp4"), "-q"]) == 2
    err = capsys.readouterr().err
    assert "no layout" in err and "reenactor layout" in err and not (tmp_path / "none.mp4").exists()

    assert main(["layout", str(clip.root), "--from", str(folder), "--parsing", "-q"]) == 0
    assert "imported from" in capsys.readouterr().out
    st = ClipStore.open(clip.root).stage("layout")
    assert (st["source"], st["label_set"], st["parsed_on"], st["read_by"]) == (
        "imported",
        "cihp",
        "source",
        "index",
    )
    lay = np.asarray(ClipStore.open(clip.root).load("layout"))
    idx = np.floor((np.arange(s) + 0.5) * (x1 - x0) / s).astype(int)
    rows, cols = np.clip(y0 + idx, 0, h - 1), np.clip(x0 + idx, 0, w - 1)
    assert np.array_equal(lay[0], src[0][rows][:, cols])
    assert set(np.unique(lay).tolist()) == {0, LAYOUT.index("upper_clothes"), LAYOUT.index("face")}
    # again: nothing to do
    assert main(["layout", str(clip.root), "--from", str(folder), "--parsing", "-q"]) == 0
    assert "already imported" in capsys.readouterr().out
    # a plain run keeps the imported layout (it does not estimate over it)
    assert main(["layout", str(clip.root), "--parsing", "-q"]) == 0
    assert "imported; kept" in capsys.readouterr().out
    assert ClipStore.open(clip.root).stage("layout")["source"] == "imported"

    out = tmp_path / "layout.mp4"
    assert main(["render", str(clip.root), "--layout", "-o", str(out), "-q"]) == 0
    info = probe(out)
    assert (info.n_frames, info.width, info.height) == (clip.n_frames, 3 * s, s)

    # a bad folder is one error naming the file, exit 2
    bad = tmp_path / "bad"
    _write(bad, src[:, :20, :20], CIHP, "palette", names=[f"{i:05d}.png" for i in range(clip.n_frames)])
    assert main(["layout", str(clip.root), "--from", str(bad), "--parsing", "--force", "-q"]) == 2
    err = capsys.readouterr().err
    assert "00000.png" in err and "20x20" in err and "fix:" in err

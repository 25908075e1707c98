"""The clip store: manifest, atomic arrays, stages added later without a schema break, clear errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from reenactor.data.clipstore import SCHEMA_VERSION, ClipStore
from reenactor.errors import InputError


def test_create_save_load_and_stages(tmp_path):
    st = ClipStore.create(tmp_path / "c", source="x.mp4", fps=25.0, n_frames=4, size=[8, 8])
    assert ClipStore.is_clip(st.root)
    st.save("body", np.ones((4, 25, 3), np.float32), stage="extract")
    st.set_stage("extract", frames=4)
    re = ClipStore.open(st.root)
    assert re.stage_done("extract") and re.stage("extract")["frames"] == 4
    assert re.n_frames == 4 and re.fps == 25.0 and re.size == (8, 8)
    assert re.load("body").shape == (4, 25, 3)
    assert re.manifest["arrays"]["body"] == {"shape": [4, 25, 3], "dtype": "float32", "stage": "extract"}
    assert re.keypoints()["body"].dtype == np.float32


def test_streaming_writer_is_atomic(tmp_path):
    st = ClipStore.create(tmp_path / "c", n_frames=3, fps=10, size=[4, 4])
    with st.writer("frames", (3, 4, 4, 3), np.uint8, stage="extract") as mm:
        for t in range(3):
            mm[t] = t
    assert np.array_equal(st.load("frames")[:, 0, 0, 0], [0, 1, 2])
    with pytest.raises(RuntimeError):
        with st.writer("mask", (3, 4, 4), np.uint8) as mm:
            mm[0] = 1
            raise RuntimeError("killed mid-write")
    assert not st.has("mask") and not st.path("mask").exists()
    assert sorted(p.name for p in st.root.iterdir()) == ["frames.npy", "manifest.json"]


def test_later_stage_adds_arrays_without_schema_break(clip_copy):
    before = dict(clip_copy.manifest["arrays"])
    flow = np.zeros((clip_copy.n_frames - 1, 4, 4, 2), np.float32)
    clip_copy.save("flow_test", flow, stage="flow_test")
    clip_copy.set_stage("flow_test", pairs=len(flow))
    re = ClipStore.open(clip_copy.root)
    assert re.manifest["schema"] == SCHEMA_VERSION
    assert re.stage_done("extract") and re.stage_done("flow_test")
    for name in before:
        assert re.manifest["arrays"][name] == before[name]
    assert re.load("flow_test").shape == flow.shape


def test_open_errors_are_clear(tmp_path):
    with pytest.raises(InputError, match="clip folder not found"):
        ClipStore.open(tmp_path / "none")
    (tmp_path / "d").mkdir()
    with pytest.raises(InputError, match="no manifest"):
        ClipStore.open(tmp_path / "d")
    (tmp_path / "d" / "manifest.json").write_text("{broken")
    with pytest.raises(InputError, match="corrupt"):
        ClipStore.open(tmp_path / "d")
    (tmp_path / "d" / "manifest.json").write_text(json.dumps({"schema": 999}))
    with pytest.raises(InputError, match="schema 999"):
        ClipStore.open(tmp_path / "d")
    st = ClipStore.create(tmp_path / "e", n_frames=1, fps=1, size=[1, 1])
    with pytest.raises(InputError, match="no `flow` array"):
        st.load("flow")

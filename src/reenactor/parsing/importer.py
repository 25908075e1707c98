"""Import human parsings made elsewhere (SCHP, PGN, LIP_JPPNet, CIHP-style output) as a clip's ``layout``.

``reenactor layout CLIP --from DIR`` reads a folder of PNGs, one per frame, and stores them as the clip's
``layout.npy`` (T, S, S) uint8 in :data:`reenactor.parsing.labels.LAYOUT` labels, the same array the estimated
``layout`` stage writes, with ``source: imported`` in the manifest.

The folder
    Every ``*.png`` in ``DIR`` (not its sub-folders), sorted by name with numbers compared as numbers
    (``f2.png`` before ``f10.png``; zero-padded names sort the same either way); there must be exactly one per
    frame of the clip. Other files are ignored.

Reading a PNG
    * palette-mode (``P``) and single-channel (``L``, 16-bit) PNGs are read **by index**: the pixel value is
      the label of the label set (the embedded palette is only used to recognise the set, see below);
    * RGB / RGBA PNGs are read **by colour** through the set's palette (alpha is dropped).

    All files of a folder must be of one kind. Which label set (``layout``, ``cihp``, ``lip``, ``atr``,
    :data:`reenactor.parsing.labels.IMPORT_SETS`) is named with ``label_set``, or ``"auto"``:

    * colours: the set whose palette holds every colour used in the folder. CIHP and LIP share their colours;
      the CIHP reading is taken (LIP's label 10 is jumpsuits where CIHP's is torso skin: pass ``lip``
      yourself for LIP output). Colours that fit both the CIHP/LIP and the ATR palettes but would read as
      different labels are refused as ambiguous. A colour in no palette is an error naming the file.
    * indices: the set whose palette the files embed (the LIP_JPPNet/PGN colours mean CIHP), else the index
      range (an index of 18 or more cannot be ATR's). SCHP writes the same PASCAL-VOC palette for all of its
      models, so its files do not tell LIP from ATR: name the set (``--label-set lip`` or ``atr``).

Frame size
    A parsing is of the clip's **source** frames (the video as extracted, ``source_size`` in the manifest) or
    of the **stored** frames (S x S). Source-size parsings are moved into the stored frame with the crop the
    extraction recorded (``crop.box``, ``crop.scale``) and nearest-neighbour resampling (labels are never
    blended; outside the source frame is background). Any other size is an error naming the file and the two
    sizes that would fit. When the two sizes are equal but the crop is not the identity, say which with
    ``parsed_on``.

An imported parsing is kept as it is: labels outside the clip's person mask are not cleared (the parser saw
the frame; MediaPipe's mask may be the one that is wrong). The fraction of labelled pixels outside the mask is
recorded in the manifest (``outside_mask_fraction``) so a mismatch is visible.

Re-running the same import (same files, same options) is skipped; an estimated layout is replaced by an
import without ``force``; a different earlier import needs ``force``.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError
from .labels import CIHP, IMPORT_SETS, LAYOUT, LabelSet

logger = logging.getLogger(__name__)

STAGE = "layout"
ARRAY = "layout"
PARSED_ON = ("auto", "source", "stored")
#: most distinct colours a folder of RGB parsings may hold (a label image has a few dozen at most)
MAX_COLOURS = 255
#: auto: preference among sets that read the used colours/indices differently only where noted (CIHP first)
_FAMILY_ORDER = ("cihp", "layout", "lip")


def _natural_key(path: Path) -> list:
    return [int(p) if p.isdigit() else p.lower() for p in re.split(r"(\d+)", path.name)]


def list_parsings(folder: str | Path) -> list[Path]:
    """The ``*.png`` files of ``folder`` in frame order (names sorted with numbers compared as numbers)."""
    folder = Path(folder)
    if not folder.exists():
        raise InputError("parsing folder not found", folder, "pass the folder holding one PNG per frame")
    if not folder.is_dir():
        raise InputError(
            "--from needs a folder of PNGs, one per frame, not a file",
            folder,
            "pass the folder that holds the parser's PNGs",
        )
    files = sorted(
        (p for p in folder.iterdir() if p.is_file() and p.suffix.lower() == ".png"), key=_natural_key
    )
    if not files:
        raise InputError(
            "no .png files in the parsing folder",
            folder,
            "write the parser's output as PNG (palette-mode or RGB), one file per frame, into this folder",
        )
    return files


@dataclass
class _Read:
    kind: str  # "index" | "colour"
    values: np.ndarray  # (H, W) int64 indices, or (H, W) int32 colour keys 0xRRGGBB
    palette: np.ndarray | None  # (n, 3) uint8: a palette PNG's embedded palette


def _read_png(path: Path) -> _Read:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im.load()
            mode = im.mode
            if mode in ("P", "PA"):
                pal = im.getpalette() or []
                palette = np.asarray(pal, np.uint8).reshape(-1, 3) if pal else None
                return _Read("index", np.asarray(im.convert("P") if mode == "PA" else im, np.int64), palette)
            if mode in ("L", "LA", "1", "I", "I;16", "I;16B", "I;16L"):
                a = np.asarray(im.getchannel(0) if mode == "LA" else im)
                return _Read("index", a.astype(np.int64), None)
            if mode in ("RGB", "RGBA"):
                rgb = np.asarray(im.convert("RGB"), np.int32)
                return _Read("colour", (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2], None)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as e:
        raise InputError(
            f"cannot read this PNG ({e})", path, "re-write it from the parser, or remove it from the folder"
        ) from None
    raise InputError(
        f"PNG mode {mode} is not a label image",
        path,
        "write palette-mode (P), single-channel (L) or RGB PNGs",
    )


def _rgb(key: int) -> tuple[int, int, int]:
    return (int(key) >> 16) & 255, (int(key) >> 8) & 255, int(key) & 255


# ------------------------------------------------------------------------------------------ geometry
def _sampler(clip, hw: tuple[int, int], parsed_on: str, path: Path):
    """``(rows, cols, how)``: for each stored row/column the source row/column it takes (-1: outside the
    source frame), or None for a parsing already at the stored size."""
    s_h, s_w = clip.size
    src = clip.manifest.get("source_size")
    crop = clip.manifest.get("crop") or {}
    box = crop.get("box")
    src_hw = (int(src[0]), int(src[1])) if src else None
    identity = bool(src_hw == (s_h, s_w) and box and list(box[:2]) == [0, 0] and box[2] - box[0] == s_w)
    fits_stored = hw == (s_h, s_w)
    fits_source = src_hw is not None and box is not None and hw == src_hw
    if parsed_on == "stored" and not fits_stored:
        fits_source = False
    if parsed_on == "source" and not fits_source:
        fits_stored = False
    if fits_stored and fits_source and not identity:
        raise InputError(
            f"the parsing is {hw[1]}x{hw[0]}, both the clip's source and its stored frame size, and the "
            "extraction cropped the frames: it is unclear which frames were parsed",
            path,
            "pass --parsed-on source (the original video's frames) or --parsed-on stored (the clip's frames)",
        )
    if fits_stored:
        return None, None, "stored"
    if fits_source:
        x0, y0, x1, _ = (int(v) for v in box)
        side = x1 - x0
        idx = np.floor((np.arange(s_w) + 0.5) * side / s_w).astype(np.int64)
        rows, cols = y0 + idx, x0 + idx
        rows = np.where((rows >= 0) & (rows < hw[0]), rows, -1)
        cols = np.where((cols >= 0) & (cols < hw[1]), cols, -1)
        return rows, cols, "source"
    sizes = [f"{s_w}x{s_h} (the clip's stored frames)"]
    if src_hw is not None and box is not None:
        sizes.insert(0, f"{src_hw[1]}x{src_hw[0]} (the source video's frames)")
    want = {"auto": " or ".join(sizes), "source": sizes[0], "stored": sizes[-1]}[parsed_on]
    raise InputError(
        f"the parsing is {hw[1]}x{hw[0]} pixels; a parsing of this clip must be {want}",
        path,
        "run the parser on the clip's source frames at their own size (no resizing), or resize its output "
        "to that size with nearest-neighbour resampling",
    )


def _resample(values: np.ndarray, rows, cols, pad: int) -> np.ndarray:
    """Nearest-neighbour sampling of ``values`` at ``rows`` x ``cols`` (-1: outside, gets ``pad``)."""
    if rows is None:
        return values
    out = values[np.clip(rows, 0, None)][:, np.clip(cols, 0, None)]
    out[rows < 0] = pad
    out[:, cols < 0] = pad
    return out


def _distinct(values: np.ndarray) -> np.ndarray:
    """Sorted distinct values of a label image, fast: only the first pixel of each run along the rows can be
    new, and label images are long runs."""
    flat = values.ravel()
    starts = np.empty(flat.size, bool)
    starts[0] = True
    np.not_equal(flat[1:], flat[:-1], out=starts[1:])
    return np.unique(flat[starts])


# ------------------------------------------------------------------------------------------ label sets
def _reading(ls: LabelSet, kind: str, used: np.ndarray, table: np.ndarray) -> np.ndarray | None:
    """Layout label per used code under set ``ls``; None where some code is not a label of ``ls``."""
    if kind == "index":
        if used.max(initial=0) >= len(ls):
            return None
        return ls.map_to_layout(used)
    lab, unknown = ls.from_colours(np.stack([_rgb(k) for k in table[used]]).astype(np.uint8)[None])
    if unknown.any():
        return None
    return ls.map_to_layout(lab[0])


def _auto_set(
    kind: str, used: np.ndarray, table: np.ndarray, palettes: list, folder: Path
) -> LabelSet | None:
    """Pick the label set for ``label_set="auto"`` (see the module docstring); None when no set knows every
    value used."""
    fits = {n: r for n, s in IMPORT_SETS.items() if (r := _reading(s, kind, used, table)) is not None}
    if kind == "index" and palettes:
        # palettes the files embed: the LIP/CIHP colours (or ours) say CIHP (or layout)
        for name in _FAMILY_ORDER[:2]:
            ls = IMPORT_SETS[name]
            if name in fits and all(
                p is not None and len(p) > used.max(initial=0) and np.array_equal(p[used], ls.palette[used])
                for p in palettes
            ):
                return ls
    if not fits:
        return None
    family = [n for n in _FAMILY_ORDER if n in fits]
    first = IMPORT_SETS[family[0]] if family else IMPORT_SETS[next(iter(fits))]
    differ = [n for n, r in fits.items() if n != "lip" and not np.array_equal(r, fits[first.name])]
    if differ:
        names = sorted(fits)
        what = "indices" if kind == "index" else "colours"
        why = (
            " (SCHP writes the same palette for all of its models, so its files do not say which)"
            if kind == "index"
            else ""
        )
        raise InputError(
            f"the parsings' {what} fit more than one label set ({', '.join(names)}) and these read them as "
            f"different labels{why}",
            folder,
            "name the parser's label set: --label-set " + " or --label-set ".join(names),
        )
    return first


def _best_set(kind: str, used: np.ndarray, table: np.ndarray) -> LabelSet:
    """The set that knows most of the used values (to word an error)."""

    def known(ls: LabelSet) -> int:
        return sum(_reading(ls, kind, np.array([u]), table) is not None for u in used)

    return max(IMPORT_SETS.values(), key=known)


def _first_bad(ls: LabelSet, auto: bool, kind: str, per_file: list, table: np.ndarray, files: list[Path]):
    """The error for the first file holding a value ``ls`` does not know."""
    names = ", ".join(IMPORT_SETS)
    which = f"the {ls.name} label set" + (", the one that fits most of the folder" if auto else "")
    for f, used in zip(files, per_file, strict=True):
        for u in used:
            if _reading(ls, kind, np.array([u]), table) is not None:
                continue
            if kind == "index":
                return InputError(
                    f"label index {int(u)} is not in {which} ({len(ls)} labels, 0..{len(ls) - 1})",
                    f,
                    f"pass the parser's label set with --label-set ({names})",
                )
            return InputError(
                f"colour {_rgb(table[u])} is not in the palette of {which}",
                f,
                f"pass the parser's label set with --label-set ({names}); a parsing saved as JPEG or resized "
                "with smoothing has blended colours: write it as PNG at full size",
            )
    return InputError(f"the parsings hold values {which} does not know", files[0].parent)  # not reached


# ------------------------------------------------------------------------------------------ the stage
def _fingerprint(files: list[Path], label_set: str, parsed_on: str) -> str:
    h = hashlib.sha1(f"{label_set}|{parsed_on}".encode())
    for f in files:
        st = f.stat()
        h.update(f"{f.name}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def import_layouts(
    clip,
    folder: str | Path,
    label_set: str = "auto",
    force: bool = False,
    parsed_on: str = "auto",
    progress: bool = False,
) -> np.ndarray:
    """Read ``folder``'s PNGs (one per frame) into clip store ``clip`` as ``layout`` (T, S, S) uint8 in
    :data:`LAYOUT` labels, stage ``layout`` with ``source: imported``. See the module docstring for the folder,
    the label sets (``label_set``: ``"auto"`` or a name in :data:`IMPORT_SETS`), sizes (``parsed_on``:
    ``"auto"``, ``"source"``, ``"stored"``) and what is skipped or needs ``force``. Returns the layout.
    """
    from tqdm.auto import tqdm

    if label_set != "auto" and label_set not in IMPORT_SETS:
        raise InputError(
            f"unknown label set {label_set!r}", fix=f"choose auto or one of {', '.join(IMPORT_SETS)}"
        )
    if parsed_on not in PARSED_ON:
        raise InputError(f"parsed_on must be one of {PARSED_ON}, got {parsed_on!r}")
    folder = Path(folder)
    files = list_parsings(folder)
    t = clip.n_frames
    if len(files) != t:
        raise InputError(
            f"{len(files)} PNG file{'s' if len(files) != 1 else ''} in the parsing folder but the clip has {t} "
            f"frames (first {files[0].name}, last {files[-1].name})",
            folder,
            f"give one PNG per frame of {clip.root}, named so they sort in frame order",
        )
    fp = _fingerprint(files, label_set, parsed_on)
    st = clip.stage(STAGE) or {}
    if clip.stage_done(STAGE) and clip.has(ARRAY) and not force:
        if st.get("source") == "imported" and st.get("fingerprint") == fp:
            return clip.load(ARRAY)
        if st.get("source") == "imported":
            raise InputError(
                f"the clip already holds a layout imported from {st.get('folder')}",
                clip.root,
                "pass --force to replace it with this folder's parsings",
            )
    t0 = time.perf_counter()
    s_h, s_w = clip.size
    codes = np.zeros((t, s_h, s_w), np.uint8)
    kind0: str | None = None
    table = [-1]  # colour keys; code 0 is "outside the source frame" (background)
    code_of: dict[int, int] = {}
    per_file: list[np.ndarray] = []
    palettes: list = []
    how = None
    for i, f in enumerate(
        tqdm(files, desc=f"import {clip.name}", unit="png", disable=not progress, leave=False)
    ):
        r = _read_png(f)
        if kind0 is None:
            kind0 = r.kind
        elif r.kind != kind0:
            raise InputError(
                f"this PNG is {'RGB' if r.kind == 'colour' else 'palette/single-channel'} but "
                f"{files[0].name} is {'RGB' if kind0 == 'colour' else 'palette/single-channel'}",
                f,
                "write all parsings of a clip the same way (all palette-mode or all RGB)",
            )
        rows, cols, how_f = _sampler(clip, tuple(r.values.shape), parsed_on, f)
        if how is not None and how_f != how:
            raise InputError(
                f"this PNG is of the {how_f} frames' size but {files[0].name} of the {how} frames'",
                f,
                "write all parsings of a clip at one size",
            )
        how = how_f
        if r.kind == "index":
            if r.values.min() < 0 or r.values.max() > 255:
                raise InputError(
                    f"label index {int(r.values.max())} is beyond 255: not a label image",
                    f,
                    "write the parser's label indices (0..N-1) as a palette-mode or 8-bit PNG",
                )
            used = np.flatnonzero(np.bincount(r.values.ravel(), minlength=256))
            codes[i] = _resample(r.values, rows, cols, pad=0)
            palettes.append(r.palette)
        else:
            keys = _distinct(r.values)
            for k in keys.tolist():
                if k not in code_of:
                    if len(table) > MAX_COLOURS:
                        raise InputError(
                            f"the parsings hold more than {MAX_COLOURS} colours by this file: not label images",
                            f,
                            "write the parser's output as PNG at full size (no JPEG, no smooth resizing)",
                        )
                    code_of[k] = len(table)
                    table.append(k)
            used = np.array([code_of[k] for k in keys.tolist()], np.uint8)
            sampled = _resample(r.values, rows, cols, pad=int(keys[0]))
            c = used[np.searchsorted(keys, sampled)]
            if rows is not None:  # outside the source frame: code 0, background in every set
                c[rows < 0] = 0
                c[:, cols < 0] = 0
            codes[i] = c
        per_file.append(np.unique(used))
    table_a = np.asarray(table, np.int64)
    used_all = np.unique(np.concatenate(per_file)).astype(np.int64)
    auto = label_set == "auto"
    ls = _auto_set(kind0, used_all, table_a, palettes, folder) if auto else IMPORT_SETS[label_set]
    if ls is None:
        ls = _best_set(kind0, used_all, table_a)
    reading = _reading(ls, kind0, used_all, table_a)
    if reading is None:
        raise _first_bad(ls, auto, kind0, per_file, table_a, files)
    lut = np.zeros(256, np.uint8)
    lut[used_all] = reading
    if kind0 == "colour":
        lut[0] = 0  # outside the source frame
    layout = lut[codes]
    present = np.flatnonzero(np.bincount(layout.ravel(), minlength=len(LAYOUT)))
    outside = None
    if clip.has("mask"):
        mask = clip.load("mask")
        labelled = layout > 0
        n_lab = int(labelled.sum())
        n_out = sum(int((labelled[k] & (np.asarray(mask[k]) < 128)).sum()) for k in range(t))
        outside = round(n_out / max(n_lab, 1), 4)
    replaced = st.get("source") if clip.stage_done(STAGE) else None
    clip.manifest["stages"].pop(STAGE, None)  # no fields left over from an estimated layout
    clip.set_stage(STAGE, status="running", source="imported")
    clip.save(ARRAY, layout, stage=STAGE, write_manifest=False)
    clip.set_stage(
        STAGE,
        status="done",
        source="imported",
        label_set=ls.name,
        label_set_auto=auto,
        read_by="index" if kind0 == "index" else "colour",
        parsed_on=how,
        folder=str(folder.resolve()),
        files=len(files),
        fingerprint=fp,
        labels_present=[LAYOUT.labels[k] for k in present],
        outside_mask_fraction=outside,
        note="kept as imported: labels outside the person mask are not cleared",
        seconds=round(time.perf_counter() - t0, 2),
    )
    if replaced:
        logger.info(f"replaced the clip's {replaced} layout with the imported one")
    if auto and ls is CIHP and 10 in set(reading.tolist()):
        logger.warning(
            f"label 10 {'(colour (85, 51, 0)) ' if kind0 == 'colour' else ''}read as CIHP's torso skin; if the "
            "parser is LIP's (10 = jumpsuits), re-run with --label-set lip --force"
        )
    return layout


__all__ = ["import_layouts", "list_parsings", "PARSED_ON"]

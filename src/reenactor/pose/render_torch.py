"""Stick figures drawn in batched torch operations on the keypoints' device: the renderer of training batches
(a method's :meth:`~reenactor.methods.base.Method.prepare_batch`) *and* of inference, so the two never drift apart.

:func:`draw_pose_batch` draws what :func:`reenactor.pose.render.draw_pose` draws (the same edges, colours,
widths, confidence threshold and drawing order, taken from :mod:`reenactor.pose.render`) for a batch of poses
at once. It reproduces OpenCV's ``LINE_8`` rasterisation (``modules/imgproc/src/drawing.cpp``) rather than an
ideal capsule ``dist(pixel, segment) <= width / 2``, which differs from OpenCV on 4-10 % of a thick stroke's
pixels (and a 1-pixel capsule is not Bresenham's line):

* width 1: ``cv::LineIterator``'s 8-connected Bresenham line from the left end point, after ``cv::clipLine``;
  the minor coordinate after ``i`` major steps is ``floor((2 d i + D - 1) / 2D)``;
* width t > 1 (``ThickLine``): the rectangle of half-width ``R = ceil(t / 2)`` around the segment in 16.16 fixed
  point, filled row by row as ``FillConvexPoly`` does (each side's x stepped down from its upper vertex, spans
  rounded to pixels), its outline as ``Line2`` draws it, and a filled circle of radius R on each end point;
* filled circles (``Circle``): the pixels with ``dx^2 + dy^2 <= r^2``.

Each piece is a list of pixels per stroke (padded to the longest in the batch; the fill's rows as one list per
item); a pixel takes the colour of the last stroke that covers it, by a scatter of drawing-order ranks with
``amax``. Pixels differ from OpenCV only near thick strokes that leave the image (OpenCV 5 also clips the filled
polygon's sides there; measured in ``tests/test_render_torch.py``: at most 0.2 % of an image's pixels on the
bundled footage). The lists' lengths are exact on a CPU, where reading them back costs nothing (a few reads
per call); on a GPU (``exact_lengths=False``) they are static bounds from the image size and the stroke width,
so a call never waits for the device (the padding is masked, the pixels are the same).

Keypoints are ``{"body": (B, 25, 3), "face": (B, 68, 3), "hand_left" / "hand_right": (B, 21, 3)}`` float
``[x, y, conf]`` in pixels of the image; a missing key is a missing part. The fixed-point geometry is int64 and
float64 (OpenCV's ``double``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import torch

from ..nn.convert import unit_from_uint8
from .render import _color, _edges, _joint_radius, _widths
from .skeleton import BODY_COLORS

SHIFT = 16  # OpenCV's XY_SHIFT: thick lines are drawn in 16.16 fixed point
ONE = 1 << SHIFT
HALF = ONE >> 1
#: pixels (batch x strokes x steps) drawn at once; a stroke's longer pixel lists go in blocks of steps
BLOCK = 1 << 20

#: x, y (int64), whether the pixel is drawn, and its stroke: ``(B, N, ...)`` lists of every stroke (stroke
#: None) or ``(B, L)`` lists of all strokes of an item (stroke ``(B, L)``)
Pixels = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None]
#: a piece of the strokes as pixel lists: their length L and the pixels at steps ``j`` (< L)
Piece = tuple[int, Callable[[torch.Tensor], Pixels]]


def draw_pose_batch(
    kp: Mapping[str, torch.Tensor],
    size: Sequence[int],
    thresh: float = 0.05,
    thickness: int | None = None,
    body: bool = True,
    face: bool = True,
    hands: bool = True,
    unit: bool = False,
    exact_lengths: bool | None = None,
) -> torch.Tensor:
    """Stick figures of a batch of poses, ``(B, 3, H, W) uint8`` RGB on the keypoints' device: the images
    :func:`reenactor.pose.render.draw_pose` draws on a black ``size = (H, W)`` canvas (``antialias=False``).
    Body limbs, then a filled circle on every body joint with ``conf > thresh``, then face contours, then
    hands; later strokes cover earlier ones. ``unit=True``: float32 in [-1, 1] instead, the values
    :func:`reenactor.nn.convert.unit_from_uint8` gives for the uint8 image (in one pass). ``exact_lengths``:
    size the pixel lists by reading their lengths back (no padding, a few host syncs) or by static bounds (no
    sync); None = exact on a CPU only."""
    h, w = int(size[0]), int(size[1])
    t_body, t_thin = _widths((h, w), thickness)
    parts = [p for p in ("body", "face", "hand_left", "hand_right") if p in kp]
    if not parts:
        raise ValueError("draw_pose_batch needs at least one keypoint array")
    n_batch, device = kp[parts[0]].shape[0], kp[parts[0]].device
    exact = exact_on(device) if exact_lengths is None else bool(exact_lengths)
    canvas = torch.zeros(n_batch, h * w, dtype=torch.float32, device=device)  # the last stroke's rank
    colors: list[tuple[int, int, int]] = [(0, 0, 0)]
    layers = [("body", t_body)] if body and "body" in kp else []
    layers += [(p, t_thin) for p in parts if (p == "face" and face) or (p.startswith("hand") and hands)]
    for part, t in layers:
        edges, pts = _edges(part), kp[part]
        a, b = (pts[:, [e[k] for e in edges]] for k in (1, 2))
        valid, rank = _drawn((a[..., 2] > thresh) & (b[..., 2] > thresh), len(colors), exact)
        if rank.numel():
            p, q = (_pixel(x.index_select(1, rank - len(colors))) * valid[..., None] for x in (a, b))
            if t == 1:
                pieces = [_line_pixels(p, q, (h, w), exact)]
            else:
                radius = (t + 1) // 2
                rect = _rectangle(p, q, radius)
                pieces = [_fill_pixels(rect, (h, w), radius, exact), *_outline_pixels(rect, (h, w), exact)]
                pieces += [_disc_pixels(c, radius) for c in (p, q)]
            _paint(canvas, pieces, valid, rank, (h, w))
        colors += [_color(part, g) for g, _, _ in edges]
        if part == "body":  # the joints' circles go over the limbs, under face and hands
            valid, rank = _drawn(pts[..., 2] > thresh, len(colors), exact)
            if rank.numel():
                c = _pixel(pts.index_select(1, rank - len(colors))) * valid[..., None]
                _paint(canvas, [_disc_pixels(c, _joint_radius(t_body))], valid, rank, (h, w))
            colors += list(BODY_COLORS[: pts.shape[1]])
    palette = torch.tensor(colors, dtype=torch.uint8, device=device).T.contiguous()  # (3, ranks + 1)
    if unit:
        palette = unit_from_uint8(palette)
    if exact:  # colour only the drawn pixels (a few %; finding them reads their number back)
        drawn = canvas.flatten().nonzero().squeeze(1)
        out = palette[:, :1].expand(3, n_batch * h * w).contiguous()  # black
        out.index_copy_(1, drawn, palette.index_select(1, canvas.flatten()[drawn].long()))
    else:
        out = palette.index_select(1, canvas.flatten().long())
    return out.view(3, n_batch, h, w).transpose(0, 1)


def exact_on(device: torch.device) -> bool:
    """Whether :func:`draw_pose_batch` reads its pixel lists' lengths back by default on ``device``: on a CPU
    only (there the read costs nothing and the lists need no padding)."""
    return device.type == "cpu"


def _pixel(pts: torch.Tensor) -> torch.Tensor:
    """``(..., 3)`` keypoints -> ``(..., 2)`` int64 pixels, rounded half to even as
    :func:`reenactor.pose.render._pt` (Python's ``round``) rounds them."""
    return torch.round(pts[..., :2].double()).long()


def _drawn(valid: torch.Tensor, rank0: int, exact: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """The strokes ``n`` of ``valid`` ``(B, N)`` that some item draws (``exact``: one host sync; else all of them):
    their ``valid`` columns and their drawing-order ranks ``rank0 + n``."""
    if not exact:
        return valid, torch.arange(valid.shape[1], device=valid.device) + rank0
    keep = valid.any(0).nonzero().squeeze(1)
    return valid.index_select(1, keep), keep + rank0


def _paint(
    canvas: torch.Tensor, pieces: list[Piece], valid: torch.Tensor, rank: torch.Tensor, size: tuple[int, int]
) -> None:
    """Paint strokes of ranks ``rank`` ``(N,)`` (``valid`` ``(B, N)``), given as pieces of pixel lists, into
    ``canvas`` ``(B, H*W)``: a stroke's rank wherever no stroke of a higher rank is, in blocks of
    :data:`BLOCK` pixels."""
    h, w = size
    rank = rank.to(canvas.dtype)
    for length, at in pieces:
        for j in torch.arange(length, device=canvas.device).split(max(1, BLOCK // valid.numel())):
            x, y, drawn, stroke = at(j)
            if stroke is None:
                x, y = x.flatten(2), y.flatten(2)
                keep, ranks = drawn.flatten(2) & valid[..., None], rank[:, None]
            else:
                keep, ranks = drawn & valid.gather(1, stroke), rank[stroke]
            val = torch.where(keep & ((x | y) >= 0) & (x < w) & (y < h), ranks, 0.0)
            where = y.clamp(0, h - 1) * w + x.clamp(0, w - 1)
            canvas.scatter_reduce_(1, where.flatten(1), val.flatten(1), "amax")


def _longest(n: torch.Tensor, bound: int, exact: bool) -> int:
    """The largest of the counts ``n``, 0 for none (one host sync), or without ``exact`` the static ``bound`` on
    them (no sync)."""
    if not exact:
        return bound
    return max(int(n.max()), 0) if n.numel() else 0


# ------------------------------------------------------------------------------------------ integer geometry
def _floordiv(a: torch.Tensor, b: torch.Tensor | int) -> torch.Tensor:
    return torch.div(a, b, rounding_mode="floor")


def _fixed_round(v: torch.Tensor) -> torch.Tensor:
    """16.16 fixed point -> nearest pixel, halves up: ``(v + HALF) >> SHIFT``."""
    return _floordiv(v + HALF, ONE)


def _swap(cond: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.where(cond, b, a), torch.where(cond, a, b)


def _clip(
    x1: torch.Tensor, y1: torch.Tensor, x2: torch.Tensor, y2: torch.Tensor, w: int, h: int
) -> tuple[torch.Tensor, ...]:
    """``cv::clipLine`` of segments to ``[0, w-1] x [0, h-1]`` (int64, any shape): ``(inside, x1, y1, x2, y2)``,
    the moved coordinates truncating a ``double`` quotient as OpenCV does."""
    right, bottom = w - 1, h - 1

    def code(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return (x < 0).long() + (x > right).long() * 2 + (y < 0).long() * 4 + (y > bottom).long() * 8

    def moved(a: torch.Tensor, a0: torch.Tensor, num: torch.Tensor, den: torch.Tensor) -> torch.Tensor:
        den = torch.where(den == 0, 1, den).double()
        return ((a - a0).double() * num.double() / den).trunc().long()

    c1, c2 = code(x1, y1), code(x2, y2)
    need = ((c1 & c2) == 0) & ((c1 | c2) != 0)
    m = need & ((c1 & 12) != 0)  # the first end onto the top / bottom edge
    a = torch.where(c1 < 8, 0, bottom)
    x1 = torch.where(m, x1 + moved(a, y1, x2 - x1, y2 - y1), x1)
    y1 = torch.where(m, a, y1)
    c1 = torch.where(m, code(x1, y1) & 3, c1)
    m = need & ((c2 & 12) != 0)  # the second end, with the first one moved
    a = torch.where(c2 < 8, 0, bottom)
    x2 = torch.where(m, x2 + moved(a, y2, x2 - x1, y2 - y1), x2)
    y2 = torch.where(m, a, y2)
    c2 = torch.where(m, code(x2, y2) & 3, c2)
    need = need & ((c1 & c2) == 0) & ((c1 | c2) != 0)
    m = need & (c1 != 0)  # then onto the left / right edge
    a = torch.where(c1 == 1, 0, right)
    y1 = torch.where(m, y1 + moved(a, x1, y2 - y1, x2 - x1), y1)
    x1 = torch.where(m, a, x1)
    c1 = torch.where(m, 0, c1)
    m = need & (c2 != 0)
    a = torch.where(c2 == 1, 0, right)
    y2 = torch.where(m, y2 + moved(a, x2, y2 - y1, x2 - x1), y2)
    x2 = torch.where(m, a, x2)
    c2 = torch.where(m, 0, c2)
    return (c1 | c2) == 0, x1, y1, x2, y2


# ------------------------------------------------------------------------------------------ pixels of strokes
def _line_pixels(p: torch.Tensor, q: torch.Tensor, size: tuple[int, int], exact: bool) -> Piece:
    """1-pixel lines ``p -> q`` ``(B, N, 2)`` (``cv::line`` with thickness 1, ``LINE_8``), a pixel per step
    (clipped to the image: at most ``max(h, w)`` steps)."""
    ok, x1, y1, x2, y2 = _clip(p[..., 0], p[..., 1], q[..., 0], q[..., 1], size[1], size[0])
    left = x2 < x1  # LineIterator walks from the left end
    (x1, x2), (y1, y2) = _swap(left, x1, x2), _swap(left, y1, y2)
    dx, dy = x2 - x1, y2 - y1
    sy, ady = torch.where(dy < 0, -1, 1), dy.abs()
    x_major = dx >= ady
    major, minor = torch.maximum(dx, ady), torch.minimum(dx, ady)
    x1, y1, sy, x_major, major, minor, ok = (t[..., None] for t in (x1, y1, sy, x_major, major, minor, ok))

    def at(i: torch.Tensor) -> Pixels:
        m = _floordiv((2 * minor * i + major - 1).clamp_min(0), 2 * major.clamp_min(1))
        x = x1 + torch.where(x_major, i, m)
        y = y1 + sy * torch.where(x_major, m, i)
        return x, y, ok & (i <= major), None

    return _longest(torch.where(ok, major + 1, 0), max(size), exact), at


def _disc_pixels(c: torch.Tensor, r: int) -> Piece:
    """Filled circles of radius ``r`` on integer centres ``c`` ``(B, N, 2)`` (``Circle``), a pixel per step."""
    d = range(-r, r + 1)  # the disc's offsets, row by row, listed on the host
    dx, dy = torch.tensor([(x, y) for y in d for x in d if x * x + y * y <= r * r], device=c.device).T

    def at(j: torch.Tensor) -> Pixels:
        x, y = c[..., 0:1] + dx[j], c[..., 1:2] + dy[j]
        return x, y, torch.ones_like(x, dtype=torch.bool), None

    return len(dx), at


def _rectangle(p: torch.Tensor, q: torch.Tensor, radius: int) -> torch.Tensor:
    """``ThickLine``'s polygon: the corners ``(B, N, 4, 2)`` (16.16 fixed point) of the rectangle of half-width
    ``radius`` around ``p -> q``, ``p + d, p - d, q - d, q + d`` with ``d = round(radius * n)`` (``n`` the unit
    normal, ``cvRound``: half to even); all four corners on ``p`` when ``p == q`` (no rectangle)."""
    ddx, ddy = (p[..., 0] - q[..., 0]).double(), (q[..., 1] - p[..., 1]).double()
    scale = radius * ONE / (ddx * ddx + ddy * ddy).clamp_min(1).sqrt()
    d = torch.stack([torch.round(ddy * scale), torch.round(ddx * scale)], -1).long()
    d = d * (p != q).any(-1, keepdim=True)
    a, b = p * ONE, q * ONE
    return torch.stack([a + d, a - d, b - d, b + d], -2)


def _fill_pixels(v: torch.Tensor, size: tuple[int, int], radius: int, exact: bool) -> Piece:
    """``FillConvexPoly`` of convex quads ``v`` ``(B, N, 4, 2)`` (16.16; :func:`_rectangle`'s, of half-width
    ``radius``): on every image row ``y`` from the top vertex's row to before the bottom vertex's (vertex rows
    rounded), the pixels from ``(x_left + HALF) >> 16`` to ``(x_right + HALF) >> 16``. A side's x starts at its
    upper vertex's exact x on that vertex's row and steps by ``((x_e - x_s) * 2 + dy) / (2 dy)`` (C division)
    per row. Static bounds: at most ``h`` rows; a rectangle's pixels inside the image lie in a band of width
    ``2 radius`` across it, at most ``(2 radius + 3) (h + w + 2 radius + 2)`` of them (a row's run spans the band's
    chord plus two rounded ends)."""
    h, w = size
    u = v.roll(-1, -2)
    ra, rb = _fixed_round(v[..., 1]), _fixed_round(u[..., 1])
    down = ra <= rb
    x_top, x_bot = _swap(~down, v[..., 0], u[..., 0])
    r_top, r_bot = torch.minimum(ra, rb), torch.maximum(ra, rb)
    dy = (r_bot - r_top).clamp_min(1)
    step = torch.div((x_bot - x_top) * 2 + dy, 2 * dy, rounding_mode="trunc")
    first = r_top.amin(-1).clamp_min(0)  # (B, N): the first image row
    last = r_bot.amax(-1).clamp_max(h)  # one past the last
    y = first[..., None] + torch.arange(_longest(last - first, h, exact), device=v.device)  # (B, N, R)
    r_top, r_bot, x_top, step = (t[..., None] for t in (r_top, r_bot, x_top, step))  # (B, N, 4, 1)
    left = right = None
    for k in range(4):  # the two sides active on each row bound it
        active = (y >= r_top[..., k, :]) & (y < r_bot[..., k, :])
        x = x_top[..., k, :] + (y - r_top[..., k, :]) * step[..., k, :]
        xl, xr = x.where(active, 1 << 62), x.where(active, -(1 << 62))
        left, right = (xl, xr) if left is None else (torch.minimum(left, xl), torch.maximum(right, xr))
    lo = _fixed_round(left).clamp_min(0)
    hi = _fixed_round(right).where(y < last[..., None], -1).clamp_max(w - 1)
    per_stroke = (2 * radius + 3) * (h + w + 2 * radius + 2)
    return _runs(y, lo, hi, v.shape[1] * per_stroke, exact)


def _runs(y: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor, bound: int, exact: bool) -> Piece:
    """The pixels of row runs ``[lo, hi]`` on rows ``y`` ``(B, N, R)`` (empty where ``hi < lo``) as one list per
    item, without padding between strokes: pixel ``j`` is on the first run whose lengths so far pass ``j``."""
    rows = y.shape[-1]
    y, lo, hi = y.flatten(1), lo.flatten(1), hi.flatten(1)
    n = (hi - lo + 1).clamp_min(0)
    ends = n.cumsum(-1)
    total = ends[:, -1:]

    def at(j: torch.Tensor) -> Pixels:
        run = torch.searchsorted(ends, j.expand(len(ends), -1).contiguous(), right=True)
        run = run.clamp_max(ends.shape[-1] - 1)
        x = lo.gather(-1, run) + j - (ends.gather(-1, run) - n.gather(-1, run))
        return x, y.gather(-1, run), j < total, torch.div(run, rows, rounding_mode="floor")

    return _longest(total, bound, exact), at


def _outline_pixels(v: torch.Tensor, size: tuple[int, int], exact: bool) -> list[Piece]:
    """``Line2`` (the fixed-point DDA ``FillConvexPoly`` outlines a polygon with) along the four sides of quads
    ``v`` ``(B, N, 4, 2)`` (:func:`_rectangle`'s, short and long sides alternating), clipped to the image (at
    most ``max(h, w)`` steps): the steps of the short sides and of the long sides (2 pixels a step each) and
    the sides' end pixels."""
    h, w = size
    u = v.roll(-1, -2)
    ok, x1, y1, x2, y2 = _clip(v[..., 0], v[..., 1], u[..., 0], u[..., 1], w * ONE, h * ONE)
    x_major = (x2 - x1).abs() > (y2 - y1).abs()
    back = torch.where(x_major, x2 < x1, y2 < y1)  # Line2 walks left to right (x-major), else downwards
    (x1, x2), (y1, y2) = _swap(back, x1, x2), _swap(back, y1, y2)
    along = torch.where(x_major, x2 - x1, y2 - y1)
    step = torch.div(torch.where(x_major, y2 - y1, x2 - x1) * ONE, along | 1, rounding_mode="trunc")
    count = _floordiv(along, ONE)
    start = _fixed_round(torch.where(x_major, x1, y1))  # the first pixel on the major axis
    a0 = torch.where(x_major, y1, x1) + HALF

    def sides(i: list[int]) -> Piece:
        side = torch.tensor(i, device=v.device)
        sx, st, sc, sa, sk, sm = (
            t.index_select(-1, side)[..., None] for t in (x_major, start, count, a0, ok, step)
        )

        def at(k: torch.Tensor) -> Pixels:
            major, minor = st + k, _floordiv(sa + k * sm, ONE)
            return torch.where(sx, major, minor), torch.where(sx, minor, major), sk & (k <= sc), None

        return _longest(torch.where(sk, sc + 1, 0), max(h, w) + 1, exact), at

    def end(_: torch.Tensor) -> Pixels:
        return _fixed_round(x2)[..., None], _fixed_round(y2)[..., None], ok[..., None], None

    return [sides([0, 2]), sides([1, 3]), (1, end)]


__all__ = ["draw_pose_batch"]

"""Vectorised 3D boxes.

Boxes are ``(N, 7)`` float arrays ``[x, y, z, length, width, height, yaw]``:
``(x, y, z)`` is the geometric centre, ``length`` lies along the heading,
``width`` across it, ``height`` along +z, and ``yaw`` is the heading about +z,
zero along +x, counter-clockwise positive. The frame is whatever frame the
centre is given in (labels live in ``world``).

Corner order (see docs/conventions.md), in the box's own frame
(x forward, y left, z up), bottom face first, each face counter-clockwise seen
from above, starting front-right::

    0 (+l/2, -w/2, -h/2)  front-right-bottom     4 .. 7: the same four,
    1 (+l/2, +w/2, -h/2)  front-left-bottom              at +h/2 (top)
    2 (-l/2, +w/2, -h/2)  rear-left-bottom
    3 (-l/2, -w/2, -h/2)  rear-right-bottom

The front face is corners 0, 1, 5, 4.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "BOX_EDGES",
    "as_boxes",
    "bev_corners",
    "bev_iou_matrix",
    "bev_iou_pairs",
    "box_corners",
    "count_points_in_boxes",
    "iou3d_matrix",
    "iou3d_pairs",
    "normalize_yaw",
    "points_in_boxes",
    "points_in_each_box",
    "points_to_box_frame",
    "yaw_difference",
]

_UNIT_CORNERS = np.array(
    [
        [1, -1, -1],
        [1, 1, -1],
        [-1, 1, -1],
        [-1, -1, -1],
        [1, -1, 1],
        [1, 1, 1],
        [-1, 1, 1],
        [-1, -1, 1],
    ],
    dtype=float,
) * 0.5

#: The 12 edges of a box as pairs of corner indices: bottom, top, verticals.
BOX_EDGES = np.array(
    [[0, 1], [1, 2], [2, 3], [3, 0], [4, 5], [5, 6], [6, 7], [7, 4], [0, 4], [1, 5], [2, 6], [3, 7]]
)


def as_boxes(boxes: np.ndarray) -> np.ndarray:
    """Return ``boxes`` as a float64 (N, 7) array (a single (7,) box becomes (1, 7))."""
    arr = np.asarray(boxes, dtype=float)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != 7:
        raise ValueError(f"boxes must have shape (N, 7), got {arr.shape}")
    return arr


def normalize_yaw(yaw: np.ndarray | float) -> np.ndarray | float:
    """Wrap angles (radians) to [-pi, pi)."""
    out = np.mod(np.asarray(yaw, dtype=float) + np.pi, 2 * np.pi) - np.pi
    return float(out) if np.ndim(out) == 0 else out


def yaw_difference(a: np.ndarray | float, b: np.ndarray | float) -> np.ndarray | float:
    """Signed shortest angle from ``b`` to ``a``, in [-pi, pi)."""
    return normalize_yaw(np.asarray(a, dtype=float) - np.asarray(b, dtype=float))


def box_corners(boxes: np.ndarray) -> np.ndarray:
    """Corners of (N, 7) boxes as (N, 8, 3), in the module's documented order."""
    b = as_boxes(boxes)
    local = _UNIT_CORNERS[None, :, :] * b[:, None, 3:6]
    c, s = np.cos(b[:, 6]), np.sin(b[:, 6])
    x = local[..., 0] * c[:, None] - local[..., 1] * s[:, None]
    y = local[..., 0] * s[:, None] + local[..., 1] * c[:, None]
    out = np.stack([x, y, local[..., 2]], axis=-1)
    return out + b[:, None, :3]


def bev_corners(boxes: np.ndarray) -> np.ndarray:
    """Bird's-eye footprints of (N, 7) boxes as (N, 4, 2), counter-clockwise."""
    return box_corners(boxes)[:, :4, :2]


def points_to_box_frame(points: np.ndarray, box: np.ndarray) -> np.ndarray:
    """Express (N, 3) points in the frame of one (7,) box (origin at its centre, x along yaw)."""
    b = as_boxes(box)[0]
    d = np.asarray(points, dtype=float)[:, :3] - b[:3]
    c, s = np.cos(b[6]), np.sin(b[6])
    return np.stack([c * d[:, 0] + s * d[:, 1], -s * d[:, 0] + c * d[:, 1], d[:, 2]], axis=1)


def _inside_chunk(px, py, pz, b):
    dx = px[None, :] - b[:, 0:1]
    dy = py[None, :] - b[:, 1:2]
    c, s = np.cos(b[:, 6:7]), np.sin(b[:, 6:7])
    lx = c * dx + s * dy
    ly = -s * dx + c * dy
    return (
        (np.abs(lx) <= b[:, 3:4] * 0.5)
        & (np.abs(ly) <= b[:, 4:5] * 0.5)
        & (np.abs(pz[None, :] - b[:, 2:3]) <= b[:, 5:6] * 0.5)
    )


def points_in_boxes(points: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Which points lie in which box (boundary included).

    points: (N, 3+) in the boxes' frame; boxes: (M, 7). Returns (M, N) bool.
    Vectorised over points; boxes are processed in chunks to bound memory.
    """
    pts = np.asarray(points, dtype=float)
    b = as_boxes(boxes) if len(boxes) else np.zeros((0, 7))
    out = np.zeros((len(b), len(pts)), dtype=bool)
    if len(b) == 0 or len(pts) == 0:
        return out
    px, py, pz = pts[:, 0], pts[:, 1], pts[:, 2]
    chunk = max(1, int(4_000_000 // max(len(pts), 1)))
    for i in range(0, len(b), chunk):
        out[i : i + chunk] = _inside_chunk(px, py, pz, b[i : i + chunk])
    return out


def points_in_each_box(points: np.ndarray, boxes: np.ndarray) -> list[np.ndarray]:
    """The points inside each box: (N, 3+) points, (M, 7) boxes -> M arrays (K_i, 3) float64.

    Same inside test as :func:`points_in_boxes`. The points are sorted by x once,
    then each box tests only the slice within its bounding radius, so 50 boxes on
    a 120k-point sweep cost a few milliseconds rather than a dense (M, N) test.
    Each box's points come in ascending x.
    """
    pts = np.asarray(points)
    b = as_boxes(boxes) if len(boxes) else np.zeros((0, 7))
    if len(b) == 0:
        return []
    if len(pts) == 0:
        return [np.zeros((0, 3)) for _ in range(len(b))]
    order = np.argsort(pts[:, 0], kind="stable")
    xs = pts[order, 0]
    r = 0.5 * np.hypot(b[:, 3], b[:, 4]) + 1e-9
    lo = np.searchsorted(xs, b[:, 0] - r, side="left")
    hi = np.searchsorted(xs, b[:, 0] + r, side="right")
    out = []
    for k in range(len(b)):
        cand = np.asarray(pts[order[lo[k] : hi[k]], :3], dtype=float)
        cand = cand[np.abs(cand[:, 1] - b[k, 1]) <= r[k]]
        out.append(cand[_inside_chunk(cand[:, 0], cand[:, 1], cand[:, 2], b[k : k + 1])[0]])
    return out


def count_points_in_boxes(points: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Number of points inside each box: (N, 3+) points, (M, 7) boxes -> (M,) int64.

    Same inside test as :func:`points_in_boxes`; many boxes go through the
    sorted-x windows of :func:`points_in_each_box`.
    """
    pts = np.asarray(points, dtype=float)
    b = as_boxes(boxes) if len(boxes) else np.zeros((0, 7))
    if len(b) == 0 or len(pts) == 0:
        return np.zeros(len(b), dtype=np.int64)
    if len(b) <= 2:
        return points_in_boxes(pts, b).sum(axis=1).astype(np.int64)
    return np.array([len(p) for p in points_in_each_box(pts, b)], dtype=np.int64)


def _poly_area(poly: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Shoelace area of (K, V, 2) polygons whose valid vertices come first, in order."""
    n = valid.sum(axis=1)
    idx = np.arange(poly.shape[1])[None, :]
    nxt = np.where(idx + 1 < n[:, None], idx + 1, 0)
    q = np.take_along_axis(poly, nxt[..., None].repeat(2, axis=2), axis=1)
    cross = poly[..., 0] * q[..., 1] - poly[..., 1] * q[..., 0]
    return 0.5 * np.abs(np.where(valid, cross, 0.0).sum(axis=1))


def _inside_convex(pts: np.ndarray, poly: np.ndarray, eps: float) -> np.ndarray:
    """(K, P, 2) points inside (K, 4, 2) counter-clockwise convex quads -> (K, P) bool."""
    a = poly
    e = np.roll(poly, -1, axis=1) - poly  # (K, 4, 2)
    rel = pts[:, :, None, :] - a[:, None, :, :]  # (K, P, 4, 2)
    cross = e[:, None, :, 0] * rel[..., 1] - e[:, None, :, 1] * rel[..., 0]
    return np.all(cross >= -eps, axis=2)


def bev_intersection_pairs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Exact area of overlap of the bird's-eye footprints of paired boxes (K, 7), (K, 7) -> (K,)."""
    pa, pb = bev_corners(a), bev_corners(b)
    K = len(pa)
    if K == 0:
        return np.zeros(0)
    scale = np.maximum(np.abs(pa).max(axis=(1, 2)), 1.0)
    eps = 1e-9 * scale[:, None, None] ** 2
    # Candidates: corners of each inside the other, and edge-edge intersections.
    in_a = _inside_convex(pb, pa, eps)
    in_b = _inside_convex(pa, pb, eps)
    p1, d1 = pa[:, :, None, :], (np.roll(pa, -1, axis=1) - pa)[:, :, None, :]
    p2, d2 = pb[:, None, :, :], (np.roll(pb, -1, axis=1) - pb)[:, None, :, :]
    denom = d1[..., 0] * d2[..., 1] - d1[..., 1] * d2[..., 0]  # (K, 4, 4)
    r = p2 - p1
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (r[..., 0] * d2[..., 1] - r[..., 1] * d2[..., 0]) / denom
        u = (r[..., 0] * d1[..., 1] - r[..., 1] * d1[..., 0]) / denom
    ok = (np.abs(denom) > 1e-12) & (t >= -1e-9) & (t <= 1 + 1e-9) & (u >= -1e-9) & (u <= 1 + 1e-9)
    inter = np.where(ok[..., None], p1 + np.where(ok, t, 0.0)[..., None] * d1, 0.0).reshape(K, 16, 2)
    cand = np.concatenate([pa, pb, inter], axis=1)  # (K, 24, 2)
    valid = np.concatenate([in_b, in_a, ok.reshape(K, 16)], axis=1)
    cnt = valid.sum(axis=1)
    centroid = (cand * valid[..., None]).sum(axis=1) / np.maximum(cnt, 1)[:, None]
    ang = np.arctan2(cand[..., 1] - centroid[:, None, 1], cand[..., 0] - centroid[:, None, 0])
    ang = np.where(valid, ang, np.inf)
    order = np.argsort(ang, axis=1, kind="stable")
    cand = np.take_along_axis(cand, order[..., None].repeat(2, axis=2), axis=1)
    valid = np.take_along_axis(valid, order, axis=1)
    area = _poly_area(cand, valid)
    return np.where(cnt >= 3, area, 0.0)


def _z_overlap(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    lo = np.maximum(a[:, 2] - a[:, 5] / 2, b[:, 2] - b[:, 5] / 2)
    hi = np.minimum(a[:, 2] + a[:, 5] / 2, b[:, 2] + b[:, 5] / 2)
    return np.clip(hi - lo, 0.0, None)


def bev_iou_pairs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Bird's-eye IoU of paired boxes: (K, 7), (K, 7) -> (K,) in [0, 1]."""
    a, b = as_boxes(a), as_boxes(b)
    inter = bev_intersection_pairs(a, b)
    union = a[:, 3] * a[:, 4] + b[:, 3] * b[:, 4] - inter
    return np.clip(np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0), 0.0, 1.0)


def iou3d_pairs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """3D IoU of paired upright boxes: (K, 7), (K, 7) -> (K,) in [0, 1]."""
    a, b = as_boxes(a), as_boxes(b)
    inter = bev_intersection_pairs(a, b) * _z_overlap(a, b)
    union = np.prod(a[:, 3:6], axis=1) + np.prod(b[:, 3:6], axis=1) - inter
    return np.clip(np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0), 0.0, 1.0)


def _matrix(fn, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = as_boxes(a) if len(a) else np.zeros((0, 7))
    b = as_boxes(b) if len(b) else np.zeros((0, 7))
    out = np.zeros((len(a), len(b)))
    if len(a) == 0 or len(b) == 0:
        return out
    # Only pairs whose circumscribed circles touch can overlap.
    ra = 0.5 * np.hypot(a[:, 3], a[:, 4])
    rb = 0.5 * np.hypot(b[:, 3], b[:, 4])
    dist = np.hypot(a[:, None, 0] - b[None, :, 0], a[:, None, 1] - b[None, :, 1])
    ii, jj = np.nonzero(dist <= ra[:, None] + rb[None, :])
    if len(ii):
        out[ii, jj] = fn(a[ii], b[jj])
    return out


def bev_iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Bird's-eye IoU of every box in (N, 7) with every box in (M, 7) -> (N, M)."""
    return _matrix(bev_iou_pairs, a, b)


def iou3d_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """3D IoU of every box in (N, 7) with every box in (M, 7) -> (N, M)."""
    return _matrix(iou3d_pairs, a, b)

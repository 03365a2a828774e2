"""Gesture logic of the three views (top, side, front), as plain functions: no Qt.

Each view draws the selected box in its own frame, centred on the box centre
at the start of the gesture, in metres:

=======  ==================  ===================
view     horizontal axis a   vertical axis b
=======  ==================  ===================
top      box x (heading)     box y (left)
side     box x (heading)     z (up)
front    box y (left)        z (up)
=======  ==================  ===================

A gesture starts on a handle (:func:`handle_at`), and every pointer position
maps to a new (7,) box with :func:`drag` (pure: the box at the start and the
pointer positions in, the candidate box out). Edge handles resize one side
while the opposite side stays put; ``centre`` moves the box in the view's
plane; ``heading`` (top view) rotates it about its centre.
"""

from __future__ import annotations

import numpy as np

from lidarlabel.core.boxes import normalize_yaw

__all__ = ["HANDLES", "VIEWS", "drag", "handle_at", "handle_positions", "view_axes"]

VIEWS = ("top", "side", "front")
HANDLES = ("centre", "+a", "-a", "+b", "-b", "heading")
MIN_SIZE = 0.05  # m
HEADING_OFFSET = 0.6  # m beyond the front edge (top view)

# box-frame axis (0 x, 1 y, 2 z) of each view's (a, b)
_AXES = {"top": (0, 1), "side": (0, 2), "front": (1, 2)}


def view_axes(view: str) -> tuple[int, int]:
    """Box-frame axes (0 x, 1 y, 2 z) shown horizontally and vertically in ``view``."""
    if view not in _AXES:
        raise ValueError(f"view must be one of {VIEWS}, got {view!r}")
    return _AXES[view]


def handle_positions(view: str, box: np.ndarray) -> dict[str, np.ndarray]:
    """View-plane (a, b) position (2,) of every handle of the (7,) box in ``view``."""
    ia, ib = view_axes(view)
    ha, hb = box[3 + ia] / 2, box[3 + ib] / 2
    pos = {"centre": np.zeros(2), "+a": np.array([ha, 0.0]), "-a": np.array([-ha, 0.0]),
           "+b": np.array([0.0, hb]), "-b": np.array([0.0, -hb])}
    if view == "top":
        pos["heading"] = np.array([ha + HEADING_OFFSET, 0.0])
    return pos


def handle_at(view: str, box: np.ndarray, ab: np.ndarray, tolerance: float) -> str | None:
    """The handle under view-plane point ``ab`` (2,) within ``tolerance`` m, else None.

    Handles win over edges: heading, then edge midpoints, then the centre; a
    point on an edge away from its midpoint grabs that edge; a point inside the
    box grabs the centre.
    """
    p = np.asarray(ab, dtype=float)
    pos = handle_positions(view, box)
    for name in ("heading", "+a", "-a", "+b", "-b", "centre"):
        if name in pos and np.linalg.norm(p - pos[name]) <= tolerance:
            return name
    ia, ib = view_axes(view)
    ha, hb = box[3 + ia] / 2, box[3 + ib] / 2
    if abs(p[1]) <= hb:
        if abs(p[0] - ha) <= tolerance:
            return "+a"
        if abs(p[0] + ha) <= tolerance:
            return "-a"
    if abs(p[0]) <= ha:
        if abs(p[1] - hb) <= tolerance:
            return "+b"
        if abs(p[1] + hb) <= tolerance:
            return "-b"
    if abs(p[0]) < ha and abs(p[1]) < hb:
        return "centre"
    return None


def _local_to_world(box: np.ndarray, local: np.ndarray) -> np.ndarray:
    c, s = np.cos(box[6]), np.sin(box[6])
    return np.array([c * local[0] - s * local[1], s * local[0] + c * local[1], local[2]])


def drag(view: str, handle: str, box: np.ndarray, start_ab: np.ndarray, ab: np.ndarray) -> np.ndarray:
    """The (7,) world box after dragging ``handle`` of (7,) ``box`` from ``start_ab`` to ``ab`` (view plane, m)."""
    ia, ib = view_axes(view)
    b0 = np.asarray(box, dtype=float)
    out = b0.copy()
    delta = np.asarray(ab, dtype=float) - np.asarray(start_ab, dtype=float)
    if handle == "centre":
        local = np.zeros(3)
        local[ia], local[ib] = delta
        out[:3] += _local_to_world(b0, local)
    elif handle in ("+a", "-a", "+b", "-b"):
        axis = ia if handle[1] == "a" else ib
        d = delta[0] if handle[1] == "a" else delta[1]
        sign = 1.0 if handle[0] == "+" else -1.0
        new = max(b0[3 + axis] + sign * d, MIN_SIZE)
        local = np.zeros(3)
        local[axis] = sign * (new - b0[3 + axis]) / 2  # the opposite side stays put
        out[3 + axis] = new
        out[:3] += _local_to_world(b0, local)
    elif handle == "heading":
        if view != "top":
            raise ValueError("the heading handle exists in the top view only")
        a0 = np.arctan2(start_ab[1], start_ab[0])
        a1 = np.arctan2(ab[1], ab[0])
        out[6] = normalize_yaw(b0[6] + (a1 - a0))
    else:
        raise ValueError(f"handle must be one of {HANDLES}, got {handle!r}")
    return out

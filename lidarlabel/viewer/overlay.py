"""Line geometry of the 3D overlay: cuboid wireframes, heading markers, dashes, grid, ego marker.

Qt-free numpy; every function returns world-frame segments (M, 2, 3) float32.
"""

from __future__ import annotations

import numpy as np

from lidarlabel.core.boxes import BOX_EDGES, box_corners
from lidarlabel.core.transforms import transform_points

__all__ = ["EGO_SIZE", "box_segments", "dashed", "ego_segments", "grid_segments", "project_boxes"]

# the heading marker: a cross on the front face (corners 0, 1, 5, 4) and a line from
# the bottom centre to the front
_HEADING = np.array([[0, 5], [1, 4]])
EGO_SIZE = (4.6, 1.9, 1.6)  # length, width, height of the ego-vehicle marker


def box_segments(boxes: np.ndarray) -> np.ndarray:
    """(N, 7) boxes -> (N, 15, 2, 3) segments: 12 edges, a cross on the front face, a heading line."""
    boxes = np.asarray(boxes, float).reshape(-1, 7)
    if len(boxes) == 0:
        return np.zeros((0, 15, 2, 3), np.float32)
    c = box_corners(boxes)  # (N, 8, 3)
    edges = np.stack([c[:, BOX_EDGES[:, 0]], c[:, BOX_EDGES[:, 1]]], axis=2)
    cross = np.stack([c[:, _HEADING[:, 0]], c[:, _HEADING[:, 1]]], axis=2)
    bottom_c = c[:, :4].mean(axis=1)
    front_c = c[:, [0, 1]].mean(axis=1)
    head = np.stack([bottom_c, front_c], axis=1)[:, None]
    return np.concatenate([edges, cross, head], axis=1).astype(np.float32)


def dashed(segments: np.ndarray, pieces: int = 7) -> np.ndarray:
    """(M, 2, 3) -> (M * ceil(pieces/2), 2, 3): every other piece of each segment (a dashed line)."""
    seg = np.asarray(segments, np.float32).reshape(-1, 2, 3)
    t = np.linspace(0, 1, pieces + 1, dtype=np.float32)
    pts = seg[:, :1] + t[None, :, None] * (seg[:, 1:] - seg[:, :1])  # (M, pieces+1, 3)
    a, b = pts[:, 0:-1:2], pts[:, 1::2]
    return np.stack([a, b], axis=2).reshape(-1, 2, 3)


def grid_segments(center: np.ndarray, half_extent: float = 100.0, step: float = 10.0,
                  z: float = 0.0) -> np.ndarray:
    """Ground grid lines every ``step`` m (on multiples of ``step`` in world x/y) around ``center`` (3,)."""
    cx = np.floor(center[0] / step) * step
    cy = np.floor(center[1] / step) * step
    ks = np.arange(-half_extent, half_extent + step / 2, step)
    xs, ys = cx + ks, cy + ks
    lo_x, hi_x, lo_y, hi_y = xs[0], xs[-1], ys[0], ys[-1]
    vert = [[[x, lo_y, z], [x, hi_y, z]] for x in xs]
    horiz = [[[lo_x, y, z], [hi_x, y, z]] for y in ys]
    return np.array(vert + horiz, np.float32)


def ego_segments(world_from_ego: np.ndarray) -> np.ndarray:
    """The ego vehicle as a wireframe with a heading arrow, (M, 2, 3) world segments."""
    L, W, H = EGO_SIZE
    # the ego origin is on the ground below the rear axle: the body centre is ~1.3 m ahead of it
    body = box_segments(np.array([[1.3, 0.0, H / 2, L, W, H, 0.0]]))[0, :14]
    arrow = np.array([[[3.6, 0, 0.05], [6.5, 0, 0.05]], [[6.5, 0, 0.05], [5.7, 0.6, 0.05]],
                      [[6.5, 0, 0.05], [5.7, -0.6, 0.05]]], float)
    seg = np.concatenate([body, arrow]).reshape(-1, 3)
    return transform_points(world_from_ego, seg).reshape(-1, 2, 3).astype(np.float32)


def project_boxes(camera, world_from_ego: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Project (N, 7) world boxes into ``camera`` at the ego pose (4, 4).

    Returns (segments (S, 2, 2) pixels, box_index (S,)), with lens distortion and
    near-plane clipping from :meth:`lidarlabel.core.camera.CameraModel.project_box_edges`.
    """
    from lidarlabel.core.camera import camera_from_world

    boxes = np.asarray(boxes, float).reshape(-1, 7)
    if len(boxes) == 0:
        return np.zeros((0, 2, 2)), np.zeros(0, dtype=int)
    corners = box_corners(boxes).reshape(-1, 3)
    cam_pts = transform_points(camera_from_world(camera, world_from_ego), corners).reshape(-1, 8, 3)
    return camera.project_box_edges(cam_pts)

"""Point colouring for the 3D view and the camera overlays (Qt-free, vectorised)."""

from __future__ import annotations

import numpy as np

from lidarlabel.core.camera import CameraModel, world_to_pixels

__all__ = ["COLOR_MODES", "colormap", "point_colors", "camera_colors"]

COLOR_MODES = ("height", "intensity", "distance", "camera")

# blue -> cyan -> green -> yellow -> red (turbo-like), its low end bright enough to see on black
_STOPS = np.array(
    [[70, 60, 200], [50, 130, 240], [27, 207, 212], [97, 252, 108], [210, 233, 53], [254, 155, 45], [200, 40, 10]],
    dtype=float,
)
_LUT = np.stack(
    [np.interp(np.linspace(0, 1, 256), np.linspace(0, 1, len(_STOPS)), _STOPS[:, c]) for c in range(3)], axis=1
).astype(np.uint8)


def colormap(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """(N,) values -> (N, 3) uint8 RGB on the ramp, ``lo`` blue and ``hi`` red (clipped)."""
    v = np.asarray(values, dtype=np.float32)
    span = hi - lo if hi > lo else 1.0
    idx = np.clip((v - lo) * (255.0 / span), 0, 255).astype(np.uint8)
    return _LUT[idx]


def point_colors(mode: str, points: np.ndarray, intensity: np.ndarray | None, distance: np.ndarray,
                 ground_z: float) -> np.ndarray:
    """(N, 3) uint8 colours of world-frame points (N, 3) for ``mode`` (not ``camera``).

    height: -0.5 m .. +3.5 m above ``ground_z``; intensity: [0, 1]; distance: 0 .. 60 m from the LiDAR.
    """
    if mode == "height":
        return colormap(points[:, 2] - ground_z, -0.5, 3.5)
    if mode == "intensity":
        if intensity is None:
            return np.full((len(points), 3), 200, np.uint8)
        return colormap(np.sqrt(intensity), 0.0, 1.0)  # sqrt: most returns are dim
    if mode == "distance":
        return colormap(distance, 0.0, 60.0)
    raise ValueError(f"unknown colour mode {mode!r}; expected one of {COLOR_MODES}")


def camera_colors(points: np.ndarray, ego_pose: np.ndarray, cameras: list[CameraModel],
                  images: dict[str, np.ndarray], fallback: np.ndarray) -> np.ndarray:
    """(N, 3) uint8: each world point (N, 3) takes the pixel colour of the first camera that sees it.

    Points no camera sees keep ``fallback`` (N, 3) darkened, so the image-covered part stands out.
    """
    out = (fallback.astype(np.uint16) * 2 // 5).astype(np.uint8)
    done = np.zeros(len(points), bool)
    for cam in cameras:
        img = images.get(cam.name)
        if img is None:
            continue
        uv, depth, valid = world_to_pixels(cam, ego_pose, points.astype(np.float64))
        ok = valid & ~done & cam.in_image(uv) & (depth > 0.5)
        h, w = img.shape[:2]
        u = np.clip(np.rint(uv[ok, 0]).astype(int), 0, w - 1)
        v = np.clip(np.rint(uv[ok, 1]).astype(int), 0, h - 1)
        out[ok] = img[v, u]
        done |= ok
    return out

"""Polylines with arc length: the centrelines of roads and the paths of agents."""

from __future__ import annotations

import numpy as np


class Polyline:
    """A 2D polyline ``(N, 2)`` parametrised by arc length ``s``."""

    def __init__(self, points: np.ndarray) -> None:
        pts = np.asarray(points, float)
        keep = np.ones(len(pts), bool)
        keep[1:] = np.linalg.norm(np.diff(pts, axis=0), axis=1) > 1e-6
        self.points = pts[keep]
        seg = np.linalg.norm(np.diff(self.points, axis=0), axis=1)
        self.s = np.concatenate([[0.0], np.cumsum(seg)])

    @property
    def length(self) -> float:
        return float(self.s[-1])

    def at(self, s: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
        """Points ``(N, 2)`` and unit tangents ``(N, 2)`` at arc lengths ``s`` (clamped)."""
        s = np.clip(np.atleast_1d(np.asarray(s, float)), 0.0, self.length)
        i = np.clip(np.searchsorted(self.s, s, side="right") - 1, 0, len(self.s) - 2)
        seg = self.points[i + 1] - self.points[i]
        seg_len = np.maximum(self.s[i + 1] - self.s[i], 1e-9)
        f = (s - self.s[i]) / seg_len
        pts = self.points[i] + f[:, None] * seg
        # tangent blended between neighbouring segments for smooth headings on curves
        tan = seg / seg_len[:, None]
        prev_i = np.maximum(i - 1, 0)
        next_i = np.minimum(i + 1, len(self.s) - 2)
        t_prev = self._seg_dir(prev_i)
        t_next = self._seg_dir(next_i)
        w_prev = np.clip(0.5 - f, 0, 0.5)
        w_next = np.clip(f - 0.5, 0, 0.5)
        tan = tan * (1 - w_prev - w_next)[:, None] + t_prev * w_prev[:, None] + t_next * w_next[:, None]
        tan /= np.linalg.norm(tan, axis=1, keepdims=True)
        return pts, tan

    def _seg_dir(self, i: np.ndarray) -> np.ndarray:
        d = self.points[i + 1] - self.points[i]
        return d / np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-9)

    def offset(self, d: float) -> Polyline:
        """The polyline shifted by ``d`` to the left (negative: right)."""
        pts, tan = self.at(self.s)
        normal = np.column_stack([-tan[:, 1], tan[:, 0]])
        return Polyline(pts + d * normal)

    def reversed(self) -> Polyline:
        return Polyline(self.points[::-1])

    def resampled(self, step: float) -> Polyline:
        n = max(2, int(np.ceil(self.length / step)) + 1)
        return Polyline(self.at(np.linspace(0, self.length, n))[0])

    def project(self, q: np.ndarray, chunk: int = 4096) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For points ``(M, 2)``: arc length of the nearest point, signed offset (left
        positive) and distance. Points beyond the ends project onto the end points."""
        q = np.asarray(q, float).reshape(-1, 2)
        a = self.points[:-1]
        d = np.diff(self.points, axis=0)
        L2 = np.maximum((d**2).sum(1), 1e-12)
        out_s = np.empty(len(q))
        out_o = np.empty(len(q))
        out_d = np.empty(len(q))
        for k in range(0, len(q), chunk):
            p = q[k:k + chunk, None, :]
            t = np.clip(((p - a) * d).sum(-1) / L2, 0, 1)
            foot = a + t[..., None] * d
            dist2 = ((p - foot) ** 2).sum(-1)
            j = dist2.argmin(1)
            r = np.arange(len(j))
            out_s[k:k + chunk] = self.s[j] + t[r, j] * np.sqrt(L2[j])
            cross = d[j, 0] * (p[r, 0, 1] - a[j, 1]) - d[j, 1] * (p[r, 0, 0] - a[j, 0])
            dist = np.sqrt(dist2[r, j])
            out_d[k:k + chunk] = dist
            out_o[k:k + chunk] = np.sign(cross) * dist
        return out_s, out_o, out_d


def arc(start: np.ndarray, heading: float, radius: float, angle: float, step: float = 1.0) -> np.ndarray:
    """Points of a circular arc starting at ``start`` with ``heading``, turning by
    ``angle`` (positive: left) on ``radius``."""
    n = max(2, int(abs(angle) * radius / step) + 1)
    side = np.sign(angle)
    centre = start + side * radius * np.array([-np.sin(heading), np.cos(heading)])
    a0 = heading - side * np.pi / 2
    a = a0 + np.linspace(0, angle, n)
    return centre + radius * np.column_stack([np.cos(a), np.sin(a)])


def bezier(p0, p1, p2, p3, step: float = 0.5) -> np.ndarray:
    p0, p1, p2, p3 = (np.asarray(p, float) for p in (p0, p1, p2, p3))
    n = max(4, int(np.linalg.norm(p3 - p0) / step) + 1)
    t = np.linspace(0, 1, n)[:, None]
    return (1 - t) ** 3 * p0 + 3 * (1 - t) ** 2 * t * p1 + 3 * (1 - t) * t**2 * p2 + t**3 * p3

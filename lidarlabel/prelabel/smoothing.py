"""Forward-backward smoothing of a track's ground-plane centres (constant-velocity Kalman + RTS)."""

from __future__ import annotations

import numpy as np

from lidarlabel.prelabel.tracker import cv_matrices

__all__ = ["rts_smooth"]


def _inv2(S: np.ndarray) -> np.ndarray:
    det = S[0, 0] * S[1, 1] - S[0, 1] * S[1, 0]
    return np.array([[S[1, 1], -S[0, 1]], [-S[1, 0], S[0, 0]]]) / det


def rts_smooth(times_s: np.ndarray, meas: np.ndarray, accel: float, sigma: float | np.ndarray) -> np.ndarray:
    """Forward Kalman filter and backward RTS smoother of a constant-velocity model.

    times_s (T,), meas (T, 2) xy with NaN rows where nothing was measured;
    sigma (m): the measurement noise, one value or one per frame (T,).
    Returns (T, 4) smoothed states (x, y, vx, vy).
    """
    T = len(times_s)
    H = np.array([[1.0, 0, 0, 0], [0, 1.0, 0, 0]])
    sig = np.broadcast_to(np.asarray(sigma, dtype=float), (T,))
    first = int(np.flatnonzero(np.isfinite(meas[:, 0]))[0])
    x = np.array([meas[first, 0], meas[first, 1], 0.0, 0.0])
    P = np.diag([sig[first]**2, sig[first]**2, 25.0, 25.0])
    xf, Pf, xp, Pp, Fs = (np.zeros((T, 4)), np.zeros((T, 4, 4)), np.zeros((T, 4)),
                          np.zeros((T, 4, 4)), np.zeros((T, 4, 4)))
    for t in range(T):
        if t > 0:
            F, Q = cv_matrices(times_s[t] - times_s[t - 1], accel)
            x, P = F @ x, F @ P @ F.T + Q
            Fs[t] = F
        xp[t], Pp[t] = x, P
        if np.isfinite(meas[t, 0]):
            S = P[:2, :2] + np.eye(2) * sig[t] ** 2
            K = P[:, :2] @ _inv2(S)
            x = x + K @ (meas[t] - H @ x)
            P = (np.eye(4) - K @ H) @ P
        xf[t], Pf[t] = x, P
    xs = xf.copy()
    for t in range(T - 2, -1, -1):
        C = np.linalg.solve(Pp[t + 1].T, (Pf[t] @ Fs[t + 1].T).T).T
        xs[t] = xf[t] + C @ (xs[t + 1] - xp[t + 1])
    return xs

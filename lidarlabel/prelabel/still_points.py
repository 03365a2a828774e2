"""Is a vehicle track parked? Ask its points, not its fitted centres.

Far away a parked car's cluster shows its rear, a roof fragment, its flank in
turns: the fitted (and anchored) centres jump by metres and the smoothed track
reads as motion. The points themselves do not move: the surfaces seen half a
second apart coincide in the world frame. A moving car's surfaces coincide
only once shifted by the track's displacement. Per pair of observed frames
``gap`` apart, the median distance from the later cluster's points to the
earlier one's is compared unshifted (parked) and shifted by the track's
displacement (moving); pairs where the two readings are less than
``min_shift`` apart say nothing and are skipped.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.spatial import cKDTree

__all__ = ["still_votes"]

_MAX_QUERY = 200


def still_votes(points: Sequence[np.ndarray | None], frames: Sequence[int], xy: np.ndarray,
                gap: tuple[int, int] = (3, 8), min_shift: float = 0.3) -> tuple[int, int]:
    """(pairs better explained standing still, pairs compared) for one track.

    ``points[k]`` (N_k, 3) world-frame cluster points of observed frame
    ``frames[k]`` (sorted; None when the detector kept none); ``xy`` (K, 2)
    the track's centre in each of those frames under the moving reading.
    Each frame is paired with the first later one ``gap[0]``..``gap[1]`` frames on.
    """
    still = total = 0
    trees: dict[int, cKDTree] = {}
    for i, f in enumerate(frames):
        pf = points[i]
        if pf is None or len(pf) < 3:
            continue
        j = next((j for j in range(i + 1, len(frames)) if frames[j] - f >= gap[0]), None)
        if j is None or frames[j] - f > gap[1]:
            continue
        pg = points[j]
        if pg is None or len(pg) < 3:
            continue
        d = xy[j] - xy[i]
        if np.hypot(*d) < min_shift:
            continue
        if len(pg) > _MAX_QUERY:  # a near car's cluster: the median needs no thousands of points
            pg = pg[np.linspace(0, len(pg) - 1, _MAX_QUERY).astype(int)]
        if i not in trees:
            trees[i] = cKDTree(pf[:, :3])
        tree = trees[i]
        stay = float(np.median(tree.query(pg)[0]))
        move = float(np.median(tree.query(pg - np.r_[d, 0.0])[0]))
        total += 1
        still += stay < move
    return still, total

"""``lidarlabel lint``: the checks a QA lead runs before reading anything.

:func:`lint_document` returns :class:`Finding` objects, each naming its check,
severity, track and frame, so the app lists the same findings as the command
line. Checks and limits are documented in docs/qa.md; the numeric ones live in
:mod:`lidarlabel.qa.lint_checks`, the per-category limits in
:mod:`lidarlabel.qa.lint_limits`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lidarlabel.core.labels import LabelDocument
from lidarlabel.core.ontology import Ontology, default_ontology
from lidarlabel.qa.lint_checks import (
    check_gaps,
    check_motion,
    check_overlaps,
    check_points,
    check_sizes,
)
from lidarlabel.qa.lint_limits import DEFAULT_LIMITS

__all__ = ["CHECKS", "SEVERITIES", "Finding", "LintResult", "lint_document"]

SEVERITIES = ("error", "warning", "info")
#: Every check, in report order; ``no_lidar_points`` and ``frame_out_of_range`` need ``--scene``.
CHECKS = (
    "unknown_category", "unknown_attribute", "attribute_not_for_category", "conflicting_attributes",
    "timestamps", "speed", "acceleration", "yaw_rate", "size_drift", "size_implausible",
    "overlap", "track_gap", "no_lidar_points", "frame_out_of_range", "kinematics_skipped",
)  # fmt: skip


@dataclass(frozen=True)
class Finding:
    """One problem: ``check`` (see :data:`CHECKS`), ``severity``, the track and frame it is about."""

    check: str
    severity: str
    track: str | None
    frame: int | None
    category: str | None
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"check": self.check, "severity": self.severity, "track": self.track,
                "frame": self.frame, "category": self.category, "message": self.message,
                "details": self.details}  # fmt: skip

    def __str__(self) -> str:
        where = f"track {self.track}" if self.track is not None else "document"
        if self.frame is not None:
            where += f" frame {self.frame}"
        return f"{self.severity:<7} {self.check:<26} {where}: {self.message}"


@dataclass
class LintResult:
    """All findings of one document, sorted by severity, frame and track."""

    scene: str
    version: str
    findings: list[Finding]
    checked_points: bool

    def counts(self) -> dict[str, int]:
        """Findings per severity (every severity present as a key)."""
        c = Counter(f.severity for f in self.findings)
        return {s: c.get(s, 0) for s in SEVERITIES}

    def by_check(self) -> dict[str, int]:
        """Findings per check."""
        return dict(Counter(f.check for f in self.findings))

    def for_track(self, track: str) -> list[Finding]:
        """The findings about one track."""
        return [f for f in self.findings if f.track == track]

    def to_dict(self) -> dict[str, Any]:
        """JSON form: counts, counts per check, findings."""
        return {"scene": self.scene, "version": self.version, "checked_points": self.checked_points,
                "counts": self.counts(), "by_check": self.by_check(),
                "findings": [f.to_dict() for f in self.findings]}  # fmt: skip


def _ontology_findings(doc: LabelDocument, ontology: Ontology) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    known_attrs = set(ontology.attribute_names())
    for track in doc.tracks.values():
        frames = track.frames()
        first = frames[0] if frames else None
        base = {"track": track.id, "category": track.category, "details": {}}
        if track.category not in ontology:
            out.append({**base, "check": "unknown_category", "severity": "error", "frame": first,
                        "message": f"category {track.category!r} is not in the {ontology.name!r} ontology"})
            allowed = known_attrs
        else:
            allowed = set(ontology.attribute_names(track.category))
        seen: set[tuple[str, str]] = set()
        sources = [(None, track.attributes)] + [(f, track.boxes[f].attributes) for f in frames]
        for frame, attrs in sources:
            merged = {**track.attributes, **attrs}
            for name in attrs:
                kind = ("unknown_attribute" if name not in known_attrs
                        else "attribute_not_for_category" if name not in allowed else None)  # fmt: skip
                if kind and (kind, name) not in seen:
                    seen.add((kind, name))
                    sev = "error" if kind == "unknown_attribute" else "warning"
                    msg = (f"attribute {name!r} is not in the ontology" if sev == "error"
                           else f"attribute {name!r} does not apply to {track.category}")
                    out.append({**base, "check": kind, "severity": sev,
                                "frame": frame if frame is not None else first, "message": msg,
                                "details": {"attribute": name}})  # fmt: skip
            for g in ontology.attribute_groups.values():
                on = [v for v in g.values if merged.get(v) not in (None, False)]
                if g.exclusive and len(on) > 1 and ("conflict", g.name) not in seen:
                    seen.add(("conflict", g.name))
                    out.append({**base, "check": "conflicting_attributes", "severity": "error",
                                "frame": frame if frame is not None else first,
                                "message": f"{' and '.join(on)} are exclusive ({g.name} group)",
                                "details": {"attributes": on}})  # fmt: skip
    return out


def lint_document(
    doc: LabelDocument,
    ontology: Ontology | None = None,
    limits: dict[str, dict[str, Any]] | None = None,
    scene: Any = None,
    min_overlap: float = 0.25,
    progress: bool = False,
) -> LintResult:
    """Run every check on ``doc``; with an open ``scene`` (SceneReader) also the point checks.

    Motion checks use each box's ``timestamp_us``, else the scene's frame
    timestamps; tracks with neither are skipped (one ``kinematics_skipped`` note).
    """
    ontology = ontology or default_ontology()
    limits = DEFAULT_LIMITS if limits is None else limits
    times = np.asarray(scene.timestamps_us) if scene is not None else None
    raw = _ontology_findings(doc, ontology)
    motion, skipped = check_motion(doc, limits, times)
    raw += motion + check_sizes(doc, limits, ontology) + check_overlaps(doc, min_overlap)
    raw += check_gaps(doc)
    if scene is not None:
        raw += check_points(doc, scene, progress)
    if skipped:
        raw.append({"check": "kinematics_skipped", "severity": "info", "track": None, "frame": None,
                    "category": None, "details": {"tracks": skipped},
                    "message": f"speed/acceleration/yaw-rate not checked on {skipped} track(s): "
                               "boxes carry no timestamp_us (pass --scene for frame times)"})  # fmt: skip
    findings = [Finding(r["check"], r["severity"], r["track"], r["frame"], r["category"], r["message"],
                        r.get("details", {})) for r in raw]  # fmt: skip
    findings.sort(key=lambda f: (SEVERITIES.index(f.severity), CHECKS.index(f.check),
                                 -1 if f.frame is None else f.frame, f.track or ""))  # fmt: skip
    return LintResult(doc.scene, doc.version.id, findings, scene is not None)

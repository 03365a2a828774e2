"""The QA panel's list of changes: a table model over a QAReview's changes and its filter (kind, text, accepted).

Sorting happens in the model with one Python key per row, so 20k changes sort
in well under a second; the proxy only filters.
"""

from __future__ import annotations

from PyQt6.QtCore import QModelIndex, QSortFilterProxyModel, Qt
from PyQt6.QtGui import QColor

from lidarlabel.edit.qa_mode import KIND_COLOURS, STYLE_PRIORITY, QAReview
from lidarlabel.qa.diff import BoxChange
from lidarlabel.viewer.table_model import RowTableModel

__all__ = ["ANNOTATION_CHANGES", "COLUMNS", "PROVENANCE_KINDS", "ChangeFilter", "ChangeTableModel",
           "change_text", "short_kind"]

COLUMNS = ("", "kind", "frame", "track", "category", "change")
#: Filter value: every kind but the provenance-only ones (the list's default).
ANNOTATION_CHANGES = "annotations"
PROVENANCE_KINDS = ("keyframe_changed", "source_changed")
_SHORT = {"geometry_changed": "geometry", "category_changed": "category", "attributes_changed": "attributes",
          "track_id_changed": "track id", "keyframe_changed": "keyframe", "source_changed": "source"}  # fmt: skip
_RANK = {k: r for r, k in enumerate(STYLE_PRIORITY)}


def short_kind(kind: str) -> str:
    """The kind as the list shows it ("geometry" for geometry_changed)."""
    return _SHORT.get(kind, kind)


def change_text(c: BoxChange) -> str:
    """One line of what changed (deltas of centre/size/yaw, old -> new values, split/merge/relabel)."""
    d = c.details
    if c.kind == "geometry_changed":  # only the parts that moved, so the line stays short
        sd = d["size_delta"]
        parts = [f"Δc {d['center_m']:.2f} m"] if d["center_m"] >= 0.005 else []
        if max(abs(v) for v in sd) >= 0.005:
            parts.append("Δlwh " + " ".join(f"{v:+.2f}" for v in sd))
        if abs(d["yaw_deg"]) >= 0.05:
            parts.append(f"Δyaw {d['yaw_deg']:+.1f}°")
        return "  ".join(parts) or f"Δc {d['center_m']:.3f} m"
    if c.kind == "track_id_changed":
        return f"{d['event']}: {d['before']} → {d['after']}"
    if c.kind == "attributes_changed":
        b, a = d["before"], d["after"]
        parts = [f"+{k}" for k in a if k not in b] + [f"−{k}" for k in b if k not in a]
        parts += [f"{k}: {b[k]} → {a[k]}" for k in a if k in b and a[k] != b[k]]
        return "  ".join(parts)
    if c.kind in ("added", "removed"):
        src = d.get("source", "")
        return f"{'pre-label' if src == 'prelabel' else src} box"
    if c.kind == "keyframe_changed":
        return "keyframe → not a keyframe" if d["before"] else "not a keyframe → keyframe"
    return f"{d['before']} → {d['after']}"


_QCOLOURS: dict[str, QColor] = {}


class ChangeTableModel(RowTableModel):
    """Rows are the review's changes; column 0 ticks accepted ones."""

    columns = COLUMNS

    def __init__(self) -> None:
        super().__init__()
        if not _QCOLOURS:
            _QCOLOURS.update({k: QColor(*rgb) for k, rgb in KIND_COLOURS.items()})
        self.review: QAReview | None = None
        self.rows: list[BoxChange] = []
        self._texts: dict[int, str] = {}
        self._sort: tuple[int, Qt.SortOrder] = (2, Qt.SortOrder.AscendingOrder)

    def reload(self, review: QAReview | None) -> None:
        """Re-read every change of ``review`` (nothing when None)."""
        self.beginResetModel()
        self.review = review
        self.rows = list(review.result.changes) if review is not None else []
        self._texts = {}
        if self._sort[0] != 2 or self._sort[1] != Qt.SortOrder.AscendingOrder:
            self._sort_rows(*self._sort)  # the diff's own order is by frame
        self.endResetModel()

    def _sort_rows(self, column: int, order: Qt.SortOrder) -> None:
        review = self.review
        keys = (
            lambda c: review is not None and review.is_accepted(c), lambda c: _RANK[c.kind],
            lambda c: c.frame, lambda c: c.track, lambda c: c.category, change_text,
        )  # fmt: skip
        key = keys[column] if 0 <= column < len(keys) else keys[2]
        self.rows.sort(key=key, reverse=order == Qt.SortOrder.DescendingOrder)  # stable: frame order within ties
        self._texts = {}

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sort in Python with one key per row (a proxy's pairwise compare is too slow for 20k rows)."""
        self._sort = (column, order)
        self.layoutAboutToBeChanged.emit()
        self._sort_rows(column, order)
        self.layoutChanged.emit()

    def text(self, row: int) -> str:
        """The change column of ``row`` (formatted once per reload)."""
        t = self._texts.get(row)
        if t is None:
            t = self._texts[row] = change_text(self.rows[row])
        return t

    def data(self, index: QModelIndex, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        row, col = index.row(), index.column()
        c = self.rows[row]
        if role == Qt.ItemDataRole.DisplayRole:
            if col == 0:
                return "✓" if self.review is not None and self.review.is_accepted(c) else ""
            return (None, short_kind(c.kind), str(c.frame), c.track, c.category)[col] if col < 5 else self.text(row)
        if role == Qt.ItemDataRole.DecorationRole and col == 1:
            return _QCOLOURS[c.kind]
        if role == Qt.ItemDataRole.ToolTipRole and col == 5 and c.kind == "geometry_changed":
            d = c.details
            return (f"3D IoU {c.iou:.3f}; centre Δ [{', '.join(f'{v:+.3f}' for v in d['center_delta'])}] m; "
                    f"size Δ [{', '.join(f'{v:+.3f}' for v in d['size_delta'])}] m; yaw Δ {d['yaw_deg']:+.2f}°")
        if role == Qt.ItemDataRole.ToolTipRole and col in (3, 4, 5):
            return (c.track if c.old_track in (None, c.track) else f"{c.old_track} → {c.track}",
                    c.category, self.text(row))[col - 3]
        return None


class ChangeFilter(QSortFilterProxyModel):
    """Kind, free text (track, category, change) and 'hide accepted'."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.kind = ANNOTATION_CHANGES
        self.text = ""
        self.hide_accepted = False

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Leave the order to the source model (it sorts 20k rows with one key each)."""
        self.sourceModel().sort(column, order)

    def set_filter(self, kind: str | None = None, text: str | None = None, hide_accepted: bool | None = None) -> None:
        if kind is not None:
            self.kind = kind
        if text is not None:
            self.text = text.lower()
        if hide_accepted is not None:
            self.hide_accepted = hide_accepted
        self.invalidateFilter()

    def filterAcceptsRow(self, row: int, parent: QModelIndex) -> bool:
        m: ChangeTableModel = self.sourceModel()
        c = m.rows[row]
        if self.kind == ANNOTATION_CHANGES:
            if c.kind in PROVENANCE_KINDS:
                return False
        elif self.kind and c.kind != self.kind:
            return False
        if self.hide_accepted and m.review is not None and m.review.is_accepted(c):
            return False
        return not self.text or self.text in f"{c.track} {c.old_track} {c.category} {m.text(row)}".lower()

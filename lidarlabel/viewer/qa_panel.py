"""The QA panel: compare the session's labels with a saved version or a file, list and review the differences.

All state lives in :class:`lidarlabel.edit.qa_mode.QAReview` (``panel.review``);
this widget only shows it. Canvases colour boxes by listening to
``panel.styles_changed`` and re-reading ``panel.review.box_styles(frame)`` and
``panel.review.ghost_boxes(frame)`` (docs/qa-mode.md).
"""

from __future__ import annotations

from pathlib import Path

from PyQt6.QtCore import (
    QAbstractTableModel,
    QItemSelectionModel,
    QModelIndex,
    QSortFilterProxyModel,
    Qt,
    QTimer,
    pyqtSignal,
)
from PyQt6.QtGui import QColor
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from lidarlabel.core.labels import LabelDocument
from lidarlabel.edit.qa_mode import KIND_COLOURS, STYLE_PRIORITY, QAReview
from lidarlabel.edit.session import EditSession
from lidarlabel.errors import LidarLabelError
from lidarlabel.qa.diff import SUMMARY_KEYS, BoxChange

__all__ = ["QAPanel", "change_text", "summary_html"]

COLUMNS = ("", "kind", "frame", "track", "category", "change")
#: Filter value: every kind but the provenance-only ones (the list's default).
ANNOTATION_CHANGES = "annotations"
PROVENANCE_KINDS = ("keyframe_changed", "source_changed")
_SHORT = {"geometry_changed": "geometry", "category_changed": "category", "attributes_changed": "attributes",
          "track_id_changed": "track id", "keyframe_changed": "keyframe", "source_changed": "source"}  # fmt: skip


def _short(kind: str) -> str:
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


def _swatch(kind: str, text: str, bold: bool = False) -> str:
    r, g, b = KIND_COLOURS[kind]
    body = f"<b>{text}</b>" if bold else text
    return f"<span style='color:rgb({r},{g},{b})'>■</span>&nbsp;{body.replace(' ', '&nbsp;')}"


def summary_html(review: QAReview) -> str:
    """The summary line: box counts per kind beside the legend colours, then the pre-label review figures."""
    res = review.result
    parts = [_swatch(k, f"{_short(k)} {res.summary[k]}", bool(res.summary[k]) and k != "unchanged")
             for k in SUMMARY_KEYS]  # fmt: skip
    parts += [_swatch(k, f"{_short(k)} {n}") for k, n in res.other_counts.items() if n]
    text = " &nbsp; ".join(parts)
    rv = res.review
    if rv.total:
        text += (f"<br>pre-labels {rv.total}: accepted unchanged {rv.accepted} ({rv.accepted / rv.total:.0%}), "
                 f"corrected {rv.corrected} ({rv.corrected / rv.total:.0%}), "
                 f"deleted {rv.deleted} ({rv.deleted / rv.total:.0%}); added by hand {rv.added_by_hand}")  # fmt: skip
    elif rv.added_by_hand:
        text += f"<br>added by hand {rv.added_by_hand}"
    acc = len(review.accepted)
    if acc:
        text += f" · reviewed (accepted) {acc}"
    return text


class ChangeTableModel(QAbstractTableModel):
    """Rows are the review's changes; column 0 ticks accepted ones."""

    def __init__(self) -> None:
        super().__init__()
        self.review: QAReview | None = None
        self.rows: list[BoxChange] = []

    def reload(self, review: QAReview | None) -> None:
        """Re-read every change of ``review`` (nothing when None)."""
        self.beginResetModel()
        self.review = review
        self.rows = list(review.result.changes) if review is not None else []
        self.endResetModel()

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: B008 - Qt signature
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: B008
        return len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section]
        return None

    def data(self, index: QModelIndex, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        c, col = self.rows[index.row()], index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if col == 0:
                return "✓" if self.review is not None and self.review.is_accepted(c) else ""
            return (None, _short(c.kind), str(c.frame), c.track, c.category, change_text(c))[col]
        if role == Qt.ItemDataRole.UserRole:  # sort keys
            return (None, STYLE_PRIORITY.index(c.kind), c.frame, c.track, c.category, change_text(c))[col] \
                if col else int(self.review is not None and self.review.is_accepted(c))
        if role == Qt.ItemDataRole.DecorationRole and col == 1:
            return QColor(*KIND_COLOURS[c.kind])
        if role == Qt.ItemDataRole.ToolTipRole and col == 5 and c.kind == "geometry_changed":
            d = c.details
            return (f"3D IoU {c.iou:.3f}; centre Δ [{', '.join(f'{v:+.3f}' for v in d['center_delta'])}] m; "
                    f"size Δ [{', '.join(f'{v:+.3f}' for v in d['size_delta'])}] m; yaw Δ {d['yaw_deg']:+.2f}°")
        if role == Qt.ItemDataRole.ToolTipRole and col in (3, 4, 5):
            return (c.track if c.old_track in (None, c.track) else f"{c.old_track} → {c.track}",
                    c.category, change_text(c))[col - 3]
        return None


class _ChangeFilter(QSortFilterProxyModel):
    """Kind, free text (track, category, change) and 'hide accepted'."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.kind = ANNOTATION_CHANGES
        self.text = ""
        self.hide_accepted = False

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
        return not self.text or self.text in f"{c.track} {c.old_track} {c.category} {change_text(c)}".lower()


class QAPanel(QWidget):
    """Compare-with combo, summary, filterable list of changes, Accept / Revert / Save reviewed version."""

    styles_changed = pyqtSignal()  # re-read review.box_styles(frame) / ghost_boxes(frame)
    review_changed = pyqtSignal(object)  # the new QAReview or None

    def __init__(self, session: EditSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.review: QAReview | None = None
        self._other_path: Path | None = None
        self._jumping_enabled = True
        self.versions = QComboBox()
        self.versions.setMinimumContentsLength(24)
        self.versions.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.versions.activated.connect(self._on_version_chosen)
        self.open_button = QPushButton("Open file…")
        self.open_button.clicked.connect(self._open_file_dialog)
        self.summary = QLabel("Choose a version to compare the labels with.")
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.kind_filter = QComboBox()
        self.kind_filter.addItem("annotation changes", ANNOTATION_CHANGES)
        self.kind_filter.addItem("all changes", "")
        for k in STYLE_PRIORITY:
            self.kind_filter.addItem(_short(k), k)
        self.text_filter = QLineEdit()
        self.text_filter.setPlaceholderText("Filter: track, category, change…")
        self.text_filter.setClearButtonEnabled(True)
        self.hide_accepted = QCheckBox("Hide accepted")
        self.model = ChangeTableModel()
        self.proxy = _ChangeFilter(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(Qt.ItemDataRole.UserRole)
        self.kind_filter.currentIndexChanged.connect(lambda _i: self.proxy.set_filter(kind=self.kind_filter.currentData()))
        self.text_filter.textChanged.connect(lambda t: self.proxy.set_filter(text=t))
        self.hide_accepted.toggled.connect(lambda on: self.proxy.set_filter(hide_accepted=on))
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(2, Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(20)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        for col, width in ((3, 100), (4, 130)):  # long ids and categories elide instead of squeezing "change"
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.Interactive)
            header.resizeSection(col, width)
        header.setStretchLastSection(True)
        self.table.selectionModel().currentRowChanged.connect(self._on_current_row)
        self.accept_button = QPushButton("Accept")
        self.accept_button.setToolTip("Keep this change and tick it as reviewed")
        self.accept_button.clicked.connect(self.accept_selected)
        self.revert_button = QPushButton("Revert")
        self.revert_button.setToolTip("Put this box back as it is in the other version (one undo step)")
        self.revert_button.clicked.connect(self.revert_selected)
        self.save_button = QPushButton("Save reviewed version")
        self.save_button.clicked.connect(self.save_reviewed)
        self.status = QLabel("")
        self.status.setWordWrap(True)

        top = QHBoxLayout()
        top.addWidget(QLabel("Compare with"))
        top.addWidget(self.versions, 1)
        top.addWidget(self.open_button)
        filters = QHBoxLayout()
        filters.addWidget(self.kind_filter)
        filters.addWidget(self.text_filter, 1)
        filters.addWidget(self.hide_accepted)
        buttons = QHBoxLayout()
        buttons.addWidget(self.accept_button)
        buttons.addWidget(self.revert_button)
        buttons.addStretch(1)
        buttons.addWidget(self.save_button)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(top)
        lay.addWidget(self.summary)
        lay.addLayout(filters)
        lay.addWidget(self.table, 1)
        lay.addLayout(buttons)
        lay.addWidget(self.status)

        # the list and summary need the whole diff: refresh once edits pause, not on every nudge
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(150)
        self._refresh_timer.timeout.connect(self.refresh)
        self.refresh_versions()
        self._update_buttons()

    # ------------------------------------------------------------------ choosing the other version
    def refresh_versions(self) -> None:
        """Re-list the scene's saved versions (newest first) in the combo."""
        current = self.versions.currentData()
        self.versions.clear()
        if self.session.scene_path is None:
            self.versions.addItem("no saved versions (no scene file)", None)
            self.versions.setEnabled(False)
            return
        from lidarlabel.io.label_store import LabelStore

        try:
            entries = LabelStore.for_scene(self.session.scene_path).versions()
        except LidarLabelError as exc:
            self._show_error(str(exc))
            entries = []
        self.versions.addItem("choose a saved version…" if entries else "no saved versions yet", None)
        mine = self.session.doc.version.id
        for e in reversed(entries):
            tag = "  (open)" if e.id == mine else ""
            self.versions.addItem(f"{e.created[:19].replace('T', ' ')} · {e.author} · {e.source} · "
                                  f"{e.num_boxes} boxes{tag}", e.id)  # fmt: skip
        if isinstance(self._other_path, Path) or current is None:
            return
        idx = self.versions.findData(current)
        if idx >= 0:
            self.versions.setCurrentIndex(idx)

    def _on_version_chosen(self, index: int) -> None:
        vid = self.versions.itemData(index)
        if vid is not None:
            self.compare_with_version(vid)

    def compare_with_version(self, version_id: str) -> None:
        """Compare the session with the saved version ``version_id`` (as the old side)."""
        try:
            review = QAReview.for_version(self.session, version_id)
        except LidarLabelError as exc:
            self._show_error(str(exc))
            return
        idx = self.versions.findData(version_id)
        if idx >= 0:
            self.versions.setCurrentIndex(idx)
        self._other_path = None
        self.set_review(review)

    def _open_file_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Compare with label file", "", "Label documents (*.json)")
        if path:
            self.compare_with_file(path)

    def compare_with_file(self, path: str | Path) -> None:
        """Compare the session with the label document in ``path`` (as the old side)."""
        from lidarlabel.io.labels import load_document

        try:
            other: LabelDocument = load_document(path)
            review = QAReview(self.session, other)
        except LidarLabelError as exc:
            self._show_error(str(exc))
            return
        self._other_path = Path(path)
        self.versions.setCurrentIndex(0)
        self.set_review(review)
        self.status.setText(f"Comparing with {Path(path).name}")

    def set_review(self, review: QAReview | None) -> None:
        """Show ``review`` (None leaves the QA mode); the previous one stops following the session."""
        if self.review is not None:
            self.review.changed.disconnect(self._on_review_changed)
            self.review.close()
        self.review = review
        if review is not None:
            review.changed.connect(self._on_review_changed)
        self.status.setText("")
        self.refresh()
        self.review_changed.emit(review)
        self.styles_changed.emit()

    # ------------------------------------------------------------------ showing it
    def _on_review_changed(self) -> None:
        self.styles_changed.emit()
        self._refresh_timer.start()

    def refresh(self) -> None:
        """Re-read the summary and the list from the review, keeping the selected change if it is still there."""
        self._refresh_timer.stop()
        keep = self.selected_change()
        self._jumping_enabled = False
        try:
            self.model.reload(self.review)
            self.summary.setText(summary_html(self.review) if self.review is not None
                                 else "Choose a version to compare the labels with.")  # fmt: skip
            if keep is not None:
                key = (keep.kind, keep.frame, keep.old_track, keep.new_track)
                for row, c in enumerate(self.model.rows):
                    if (c.kind, c.frame, c.old_track, c.new_track) == key:
                        idx = self.proxy.mapFromSource(self.model.index(row, 0))
                        if idx.isValid():
                            self.table.selectionModel().setCurrentIndex(
                                idx, QItemSelectionModel.SelectionFlag.ClearAndSelect
                                | QItemSelectionModel.SelectionFlag.Rows)  # fmt: skip
                        break
        finally:
            self._jumping_enabled = True
        self._update_buttons()

    def selected_change(self) -> BoxChange | None:
        """The change of the highlighted row, or None."""
        idx = self.table.selectionModel().currentIndex()  # already set when currentRowChanged fires
        if not idx.isValid():
            return None
        src = self.proxy.mapToSource(idx).row()
        return self.model.rows[src] if 0 <= src < len(self.model.rows) else None

    def _on_current_row(self, current: QModelIndex, _previous: QModelIndex) -> None:
        self._update_buttons()
        if not self._jumping_enabled or not current.isValid() or self.review is None:
            return
        change = self.model.rows[self.proxy.mapToSource(current).row()]
        self.review.jump_to(change)

    def _update_buttons(self) -> None:
        c = self.selected_change() if self.review is not None else None
        self.accept_button.setEnabled(c is not None)
        ok, why = self.review.can_revert(c) if c is not None and self.review is not None else (False, "")
        self.revert_button.setEnabled(ok)
        self.revert_button.setToolTip(why or "Put this box back as it is in the other version (one undo step)")
        self.save_button.setEnabled(self.review is not None and not self.session.read_only)

    def _show_error(self, text: str) -> None:
        self.status.setText(f"<span style='color:#e05050'>{text}</span>")

    # ------------------------------------------------------------------ review actions
    def accept_selected(self) -> None:
        """Tick the selected change as reviewed (kept); the document does not change."""
        c = self.selected_change()
        if c is not None and self.review is not None:
            self.review.accept(c, not self.review.is_accepted(c))

    def revert_selected(self) -> None:
        """Revert the selected change in the session (one undo step)."""
        c = self.selected_change()
        if c is None or self.review is None:
            return
        try:
            self.review.revert(c)
        except LidarLabelError as exc:
            self._show_error(str(exc))
            return
        self.refresh()
        self.status.setText(f"Reverted {_short(c.kind)} of {c.track} in frame {c.frame} (Undo restores it)")

    def save_reviewed(self) -> None:
        """Save the session's labels as a new version with source ``qa``."""
        if self.review is None:
            return
        try:
            path = self.review.save_reviewed(self.session.author)
        except LidarLabelError as exc:
            self._show_error(str(exc))
            return
        self.refresh_versions()
        self.status.setText(f"Saved reviewed version {path.stem} (source qa)")

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt name
        self.set_review(None)
        super().closeEvent(event)

"""The QA panel: compare the session's labels with a saved version or a file, list and review the differences.

All state lives in :class:`lidarlabel.edit.qa_mode.QAReview` (``panel.review``);
this widget only shows it. Canvases colour boxes by listening to
``panel.styles_changed`` and re-reading ``panel.review.box_styles(frame)`` and
``panel.review.ghost_boxes(frame)`` (docs/qa-mode.md).
"""

from __future__ import annotations

from pathlib import Path

from PyQt6.QtCore import QItemSelectionModel, QModelIndex, Qt, QTimer, pyqtSignal
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
from lidarlabel.viewer.qa_table import (
    ANNOTATION_CHANGES,
    ChangeFilter,
    ChangeTableModel,
    short_kind,
)

__all__ = ["QAPanel", "summary_html"]

def _swatch(kind: str, text: str, bold: bool = False) -> str:
    r, g, b = KIND_COLOURS[kind]
    body = f"<b>{text}</b>" if bold else text
    return f"<span style='color:rgb({r},{g},{b})'>■</span>&nbsp;{body.replace(' ', '&nbsp;')}"


def summary_html(review: QAReview) -> str:
    """The summary line: box counts per kind beside the legend colours, then the pre-label review figures."""
    res = review.result
    parts = [_swatch(k, f"{short_kind(k)} {res.summary[k]}", bool(res.summary[k]) and k != "unchanged")
             for k in SUMMARY_KEYS]  # fmt: skip
    parts += [_swatch(k, f"{short_kind(k)} {n}") for k, n in res.other_counts.items() if n]
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
            self.kind_filter.addItem(short_kind(k), k)
        self.text_filter = QLineEdit()
        self.text_filter.setPlaceholderText("Filter: track, category, change…")
        self.text_filter.setClearButtonEnabled(True)
        self.hide_accepted = QCheckBox("Hide accepted")
        self.model = ChangeTableModel()
        self.proxy = ChangeFilter(self)
        self.proxy.setSourceModel(self.model)
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
        for col, width in ((3, 80), (4, 115)):  # long ids and categories elide instead of squeezing "change"
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
        session.events.history_changed.connect(self._on_history)

    def _on_history(self) -> None:
        if not self.session.modified:  # just saved (or back at the saved state): a version may be new
            self.refresh_versions()

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
        self.status.setText(f"Reverted {short_kind(c.kind)} of {c.track} in frame {c.frame} (Undo restores it)")

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
        self.session.events.history_changed.disconnect(self._on_history)
        self.set_review(None)
        super().closeEvent(event)

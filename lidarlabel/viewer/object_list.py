"""The object list: one row per track (id, category, frames, source, review status), filter and sort.

The table model re-reads ``session.doc`` on every document change; selecting a
row calls ``session.select`` and a selection made elsewhere selects the row.
"""

from __future__ import annotations

from collections import Counter

from PyQt6.QtCore import (
    QItemSelectionModel,
    QModelIndex,
    QSortFilterProxyModel,
    Qt,
)
from PyQt6.QtGui import QColor
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLineEdit,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from lidarlabel.edit.session import EditSession
from lidarlabel.viewer.table_model import RowTableModel

__all__ = ["ObjectList", "TrackTableModel", "track_row"]

COLUMNS = ("id", "category", "frames", "source", "status")


def track_row(session: EditSession, tid: str) -> tuple[str, str, int, str, str]:
    """(id, category, number of boxes, main box source, review status) of a track."""
    t = session.doc.tracks[tid]
    sources = Counter(b.source for b in t.boxes.values())
    source = "/".join(s for s, _ in sources.most_common(2)) if sources else "-"
    if sources.get("prelabel"):
        score = session.track_score(tid)
        status = f"unreviewed {score:.2f}" if score is not None else "unreviewed"
    else:
        status = "reviewed"
    return tid, t.category, len(t.boxes), source, status


class TrackTableModel(RowTableModel):
    """Rows are the document's tracks, in document order."""

    columns = COLUMNS

    def __init__(self, session: EditSession) -> None:
        super().__init__()
        self.session = session
        self.rows: list[tuple] = []
        self.reload()

    def reload(self, *_a) -> None:
        """Re-read every track from the session."""
        self.beginResetModel()
        self.rows = [track_row(self.session, tid) for tid in self.session.doc.tracks]
        self.endResetModel()

    def data(self, index: QModelIndex, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        row = self.rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return str(row[index.column()])
        if role == Qt.ItemDataRole.UserRole:  # sort key: numbers as numbers
            return row[index.column()]
        if role == Qt.ItemDataRole.ForegroundRole and index.column() == 1:
            return QColor(*self.session.ontology.color(row[1]))
        if role == Qt.ItemDataRole.ForegroundRole and index.column() == 4 and row[4] != "reviewed":
            return QColor(230, 160, 60)
        return None

    def row_of(self, tid: str) -> int:
        for k, r in enumerate(self.rows):
            if r[0] == tid:
                return k
        return -1


class ObjectList(QWidget):
    """Filter box + sortable table of tracks, selection bound to the session."""

    def __init__(self, session: EditSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.model = TrackTableModel(session)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setFilterKeyColumn(-1)
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.proxy.setSortRole(Qt.ItemDataRole.UserRole)
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Filter: id, category, source, status…")
        self.filter.setClearButtonEnabled(True)
        self.filter.textChanged.connect(self.proxy.setFilterFixedString)
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.selectionModel().selectionChanged.connect(self._on_table_selection)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addWidget(self.filter)
        lay.addWidget(self.table)
        session.events.document_changed.connect(self._on_document)
        session.events.selection_changed.connect(self._on_session_selection)
        self._syncing = False
        self._on_session_selection(session.selection)

    def disconnect_session(self) -> None:
        """Stop listening (the window swaps sessions)."""
        self.session.events.document_changed.disconnect(self._on_document)
        self.session.events.selection_changed.disconnect(self._on_session_selection)

    def _on_document(self, *_a) -> None:
        self._syncing = True
        try:
            self.model.reload()
        finally:
            self._syncing = False
        self._on_session_selection(self.session.selection)

    def _on_table_selection(self, *_a) -> None:
        if self._syncing:
            return
        rows = self.table.selectionModel().selectedRows()
        tid = self.proxy.data(rows[0], Qt.ItemDataRole.UserRole) if rows else None
        if tid != self.session.selection:
            self.session.select(tid)

    def _on_session_selection(self, tid) -> None:
        self._syncing = True
        try:
            sm = self.table.selectionModel()
            row = self.model.row_of(tid) if tid is not None else -1
            if row < 0:
                sm.clearSelection()
                return
            idx = self.proxy.mapFromSource(self.model.index(row, 0))
            if idx.isValid():
                sm.select(idx, QItemSelectionModel.SelectionFlag.ClearAndSelect
                          | QItemSelectionModel.SelectionFlag.Rows)
                self.table.scrollTo(idx)
        finally:
            self._syncing = False

    def selected_track(self) -> str | None:
        """Track id of the highlighted row, or None."""
        rows = self.table.selectionModel().selectedRows()
        return self.proxy.data(rows[0], Qt.ItemDataRole.UserRole) if rows else None

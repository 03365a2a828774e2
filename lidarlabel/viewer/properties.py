"""Properties of the selected track: id, category, attributes, score, review status, keyframe.

Every control calls a session method (one undo step each); the panel re-reads
the session on its signals and never keeps annotation state of its own.
Attribute groups come from the ontology: exclusive groups are radio buttons,
others check boxes.
"""

from __future__ import annotations

from PyQt6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from lidarlabel.edit.session import EditSession

__all__ = ["PropertiesPanel", "review_status"]


def review_status(session: EditSession, tid: str) -> str:
    """'unreviewed (score 0.87)' while any box is a pre-label, else 'reviewed'."""
    t = session.doc.tracks[tid]
    if any(b.source == "prelabel" for b in t.boxes.values()):
        score = session.track_score(tid)
        return f"unreviewed (score {score:.2f})" if score is not None else "unreviewed"
    return "reviewed"


class PropertiesPanel(QWidget):
    """Editors of the selected track; see the module docstring."""

    def __init__(self, session: EditSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self._updating = False
        self.track_id = QLabel("-")
        self.category = QComboBox()
        self.category.addItems(sorted(session.ontology.categories))
        self.category.currentTextChanged.connect(self._category_chosen)
        self.score = QLabel("-")
        self.status = QLabel("-")
        self.accept_button = QPushButton("Accept")
        self.reject_button = QPushButton("Reject")
        self.accept_button.clicked.connect(lambda: self._on_track(session.accept))
        self.reject_button.clicked.connect(lambda: self._on_track(session.reject))
        self.keyframe = QCheckBox("keyframe in this frame")
        self.keyframe.toggled.connect(self._keyframe_toggled)
        self.attributes = QGroupBox("attributes")
        self._attr_layout = QVBoxLayout(self.attributes)
        self.attribute_buttons: dict[str, QCheckBox | QRadioButton] = {}
        self._groups: list[QButtonGroup] = []
        form = QFormLayout()
        form.addRow("track", self.track_id)
        form.addRow("category", self.category)
        form.addRow("score", self.score)
        form.addRow("status", self.status)
        buttons = QHBoxLayout()
        buttons.addWidget(self.accept_button)
        buttons.addWidget(self.reject_button)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addLayout(buttons)
        lay.addWidget(self.keyframe)
        lay.addWidget(self.attributes)
        lay.addStretch(1)
        ev = session.events
        for sig in (ev.frame_changed, ev.selection_changed, ev.document_changed):
            sig.connect(self.reload)
        self.destroyed.connect(lambda *_: [s.disconnect(self.reload) for s in (ev.frame_changed, ev.selection_changed, ev.document_changed)])
        self.reload()

    # ---------------------------------------------------------------- reading
    def reload(self, *_args: object) -> None:
        """Re-read the selected track from the session."""
        s = self.session
        tid = s.selection
        t = s.doc.tracks.get(tid) if tid else None
        self._updating = True
        try:
            for w in (self.category, self.accept_button, self.reject_button, self.keyframe, self.attributes):
                w.setEnabled(t is not None and not s.read_only)
            if t is None:
                self.category.setCurrentIndex(-1)  # blank, not the first category of the list
                self.track_id.setText("-")
                self.score.setText("-")
                self.status.setText("-")
                self._build_attributes(None)
                return
            self.track_id.setText(tid)
            if self.category.findText(t.category) < 0:
                self.category.addItem(t.category)
            self.category.setCurrentText(t.category)
            score = s.track_score(tid)
            self.score.setText(f"{score:.2f}" if score is not None else "-")
            self.status.setText(review_status(s, tid))
            unreviewed = any(b.source == "prelabel" for b in t.boxes.values())
            self.accept_button.setEnabled(unreviewed and not s.read_only)
            self.reject_button.setEnabled(unreviewed and not s.read_only)
            box = t.boxes.get(s.frame)
            self.keyframe.setEnabled(box is not None and not s.read_only)
            self.keyframe.setChecked(bool(box is not None and box.keyframe))
            self._build_attributes(t.category)
            for name, button in self.attribute_buttons.items():
                button.setChecked(bool(t.attributes.get(name)))
        finally:
            self._updating = False

    def _build_attributes(self, category: str | None) -> None:
        if getattr(self, "_attr_category", object()) == category:
            return
        self._attr_category = category
        for button in self.attribute_buttons.values():
            button.setParent(None)
            button.deleteLater()
        self.attribute_buttons, self._groups = {}, []
        if category is None or category not in self.session.ontology:
            return
        onto = self.session.ontology
        for gname in onto.category(category).attribute_groups:
            group = onto.attribute_groups[gname]
            qgroup = QButtonGroup(self) if group.exclusive else None
            for value in group.values:
                button = QRadioButton(value) if group.exclusive else QCheckBox(value)
                if qgroup is not None:
                    qgroup.addButton(button)
                button.toggled.connect(lambda on, name=value: self._attribute_toggled(name, on))
                self._attr_layout.addWidget(button)
                self.attribute_buttons[value] = button
            if qgroup is not None:
                self._groups.append(qgroup)

    # ---------------------------------------------------------------- writing
    def _on_track(self, method) -> None:
        if self.session.selection is not None:
            method(self.session.selection)

    def _category_chosen(self, name: str) -> None:
        s = self.session
        if self._updating or s.selection is None or not name:
            return
        if s.doc.tracks[s.selection].category != name:
            s.set_category(s.selection, name)

    def _attribute_toggled(self, name: str, on: bool) -> None:
        s = self.session
        if self._updating or s.selection is None:
            return
        group = s.ontology.group_of(name)
        if group is not None and group.exclusive and not on:
            return  # the radio button that went off was replaced by the one that went on
        if bool(s.doc.tracks[s.selection].attributes.get(name)) != on:
            s.set_attribute(s.selection, name, True if on else None)

    def _keyframe_toggled(self, on: bool) -> None:
        s = self.session
        if self._updating or s.selection is None:
            return
        box = s.doc.tracks[s.selection].boxes.get(s.frame)
        if box is not None and box.keyframe != on:
            s.set_keyframe(s.selection, s.frame, on)

"""The standalone panels docked by the main window, each built on the session.

``ThreeViewPanel`` (top / side / front views of the selection), ``PropertiesPanel``
(category, attributes, review) and ``QAPanel`` (compare with another version).
"""

from __future__ import annotations

from PyQt6.QtWidgets import QWidget

from lidarlabel.edit.session import EditSession
from lidarlabel.viewer.properties import PropertiesPanel
from lidarlabel.viewer.qa_panel import QAPanel
from lidarlabel.viewer.three_view import ThreeViewPanel

__all__ = ["editing_panels"]


def editing_panels(session: EditSession) -> dict[str, QWidget]:
    """Dock title -> panel widget for ``session``."""
    return {"Top / side / front": ThreeViewPanel(session), "Properties": PropertiesPanel(session),
            "QA review": QAPanel(session)}

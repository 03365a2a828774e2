"""The editing colleague's standalone panels, docked by the main window.

``ThreeViewPanel`` (top / side / front views of the selection) and
``PropertiesPanel`` (category, attributes, review) each take the session.
"""

from __future__ import annotations

from PyQt6.QtWidgets import QWidget

from lidarlabel.edit.session import EditSession
from lidarlabel.viewer.properties import PropertiesPanel
from lidarlabel.viewer.three_view import ThreeViewPanel

__all__ = ["editing_panels"]


def editing_panels(session: EditSession) -> dict[str, QWidget]:
    """Dock title -> panel widget for ``session``."""
    return {"Top / side / front": ThreeViewPanel(session), "Properties": PropertiesPanel(session)}

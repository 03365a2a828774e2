"""The editing colleague's standalone panels, docked by the main window.

``ThreeViewPanel`` (top / side / front views of the selection) and
``PropertiesPanel`` (category, attributes, review) each take the session.
"""

from __future__ import annotations

from PyQt6.QtWidgets import QWidget

from lidarlabel.edit.session import EditSession

__all__ = ["editing_panels"]


def editing_panels(session: EditSession) -> dict[str, QWidget]:
    """Dock title -> panel widget for ``session`` (panels not yet in the package are left out)."""
    panels: dict[str, QWidget] = {}
    try:  # guarded only until lidarlabel/viewer/three_view.py lands
        from lidarlabel.viewer.three_view import ThreeViewPanel
    except ImportError:
        ThreeViewPanel = None  # noqa: N806
    try:  # guarded only until lidarlabel/viewer/properties.py lands
        from lidarlabel.viewer.properties import PropertiesPanel
    except ImportError:
        PropertiesPanel = None  # noqa: N806
    if ThreeViewPanel is not None:
        panels["Top / side / front"] = ThreeViewPanel(session)
    if PropertiesPanel is not None:
        panels["Properties"] = PropertiesPanel(session)
    return panels

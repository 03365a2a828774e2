"""The Qt-free editing session: scene, labels, selection and one undo stack."""

from lidarlabel.edit.session import DocumentChange, EditSession, ReadOnlyError

__all__ = ["DocumentChange", "EditSession", "ReadOnlyError"]

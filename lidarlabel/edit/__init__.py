"""The Qt-free editing session: scene, labels, selection and one undo stack."""

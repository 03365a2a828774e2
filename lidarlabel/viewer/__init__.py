"""The PyQt6 annotator app. The only package that imports Qt."""

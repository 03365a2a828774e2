"""Reading and writing label documents (JSON, schema ``lidarlabel/labels@1``)."""

from __future__ import annotations

import json
from pathlib import Path

from lidarlabel.core.labels import LabelDocument, parse_document
from lidarlabel.core.ontology import Ontology
from lidarlabel.errors import InputError
from lidarlabel.io.atomic import write_json_atomic

__all__ = ["load_document", "save_document"]


def load_document(path: str | Path, ontology: Ontology | None = None) -> LabelDocument:
    """Read and validate a label document; one clear :class:`InputError` on any problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: no such label file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read label file ({exc})") from None
    if not text.strip():
        raise InputError(f"{path}: the label file is empty; expected a lidarlabel/labels@1 JSON document")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{path}: not valid JSON at line {exc.lineno}, column {exc.colno} ({exc.msg}); "
            "the file may be truncated"
        ) from None
    return parse_document(data, str(path), ontology)


def save_document(doc: LabelDocument, path: str | Path, overwrite: bool = True) -> Path:
    """Validate and write ``doc`` atomically to ``path``; returns the path."""
    data = doc.to_dict()
    parse_document(data, str(path))  # never write what we could not read back
    write_json_atomic(path, data, overwrite=overwrite)
    return Path(path)

"""The ontology: categories, attributes, default sizes and colours, as data.

The default follows the nuScenes taxonomy (``lidarlabel/data/ontology_nuscenes.json``);
a project replaces it with its own JSON file of the same shape (documented in
docs/label-format.md).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from lidarlabel.errors import SchemaError

__all__ = ["AttributeGroup", "Category", "Ontology", "default_ontology"]


@dataclass(frozen=True)
class Category:
    """One object category: its name, default size (l, w, h) in metres and RGB colour."""

    name: str
    default_size: tuple[float, float, float]
    color: tuple[int, int, int]
    attribute_groups: tuple[str, ...] = ()
    detection_class: str | None = None


@dataclass(frozen=True)
class AttributeGroup:
    """A set of attribute names; ``exclusive`` groups hold at most one true value."""

    name: str
    values: tuple[str, ...]
    exclusive: bool = True


@dataclass(frozen=True)
class Ontology:
    """Categories and attribute groups of a labeling project."""

    name: str
    categories: dict[str, Category]
    attribute_groups: dict[str, AttributeGroup] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict, source: str = "<ontology>") -> Ontology:
        """Build an ontology from its JSON form; raises SchemaError naming ``source``."""
        try:
            groups = {
                name: AttributeGroup(name, tuple(g["values"]), bool(g.get("exclusive", True)))
                for name, g in data.get("attribute_groups", {}).items()
            }
            cats = {}
            for i, c in enumerate(data["categories"]):
                size = tuple(float(v) for v in c["default_size"])
                if len(size) != 3 or min(size) <= 0:
                    raise SchemaError(
                        f"{source}: categories[{i}].default_size: expected 3 positive numbers"
                    )
                for g in c.get("attribute_groups", []):
                    if g not in groups:
                        raise SchemaError(
                            f"{source}: categories[{i}].attribute_groups: unknown group {g!r}"
                        )
                cats[c["name"]] = Category(
                    c["name"],
                    size,  # type: ignore[arg-type]
                    tuple(int(v) for v in c["color"]),  # type: ignore[arg-type]
                    tuple(c.get("attribute_groups", [])),
                    c.get("detection_class"),
                )
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, SchemaError):
                raise
            raise SchemaError(f"{source}: not a valid ontology ({exc!r})") from None
        return cls(str(data.get("name", "custom")), cats, groups)

    @classmethod
    def load(cls, path: str | Path) -> Ontology:
        """Read an ontology JSON file."""
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise SchemaError(f"{path}: cannot read ontology: {exc}") from None
        return cls.from_dict(data, str(path))

    def __contains__(self, category: str) -> bool:
        return category in self.categories

    def category(self, name: str) -> Category:
        """The category called ``name``; KeyError with the known names if there is none."""
        try:
            return self.categories[name]
        except KeyError:
            raise KeyError(f"unknown category {name!r}") from None

    def attribute_names(self, category: str | None = None) -> list[str]:
        """All attribute names, or those that apply to ``category``."""
        groups = (
            self.categories[category].attribute_groups
            if category in self.categories
            else self.attribute_groups.keys()
        )
        return [v for g in groups for v in self.attribute_groups[g].values]

    def group_of(self, attribute: str) -> AttributeGroup | None:
        """The attribute group that holds ``attribute``, if any."""
        for g in self.attribute_groups.values():
            if attribute in g.values:
                return g
        return None

    def color(self, category: str) -> tuple[int, int, int]:
        """RGB colour of a category (grey for unknown ones)."""
        c = self.categories.get(category)
        return c.color if c else (160, 160, 160)

    def default_size(self, category: str) -> tuple[float, float, float]:
        """Default (length, width, height) of a category (a car's for unknown ones)."""
        c = self.categories.get(category)
        return c.default_size if c else (4.5, 1.9, 1.7)


_DEFAULT: Ontology | None = None


def default_ontology() -> Ontology:
    """The packaged nuScenes ontology (read once, immutable)."""
    global _DEFAULT
    if _DEFAULT is None:
        text = resources.files("lidarlabel").joinpath("data/ontology_nuscenes.json").read_text()
        _DEFAULT = Ontology.from_dict(json.loads(text), "ontology_nuscenes.json")
    return _DEFAULT

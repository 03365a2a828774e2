"""Protobuf classes for the Waymo v1 ``Frame``, built at run time from ``frame.proto``.

No protoc, no tensorflow, no waymo-open-dataset: a small parser reads the
proto2 subset used by ``frame.proto`` (messages, nested messages and enums,
``optional``/``repeated`` fields, ``[packed = true]``) into a
``FileDescriptorProto``; ``message_factory`` then makes ordinary message classes
in a private descriptor pool. Unknown fields of real files are preserved.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

__all__ = ["PROTO_PATH", "message_class", "parse_proto"]

PROTO_PATH = Path(__file__).with_name("frame.proto")

_F = descriptor_pb2.FieldDescriptorProto
_SCALARS = {
    "double": _F.TYPE_DOUBLE, "float": _F.TYPE_FLOAT, "int64": _F.TYPE_INT64,
    "uint64": _F.TYPE_UINT64, "int32": _F.TYPE_INT32, "uint32": _F.TYPE_UINT32,
    "bool": _F.TYPE_BOOL, "string": _F.TYPE_STRING, "bytes": _F.TYPE_BYTES,
    "sint32": _F.TYPE_SINT32, "sint64": _F.TYPE_SINT64,
}  # fmt: skip
_LABELS = {"optional": _F.LABEL_OPTIONAL, "repeated": _F.LABEL_REPEATED, "required": _F.LABEL_REQUIRED}
_TOKEN = re.compile(r'"[^"]*"|[A-Za-z_][\w.]*|-?\d+|[{}=;\[\]]')


class _Parser:
    """Recursive-descent parser of the proto2 subset; collects declared names first."""

    def __init__(self, text: str, name: str) -> None:
        text = re.sub(r"//[^\n]*", "", text)
        self.toks = _TOKEN.findall(text)
        self.i = 0
        self.file = descriptor_pb2.FileDescriptorProto(name=name, syntax="proto2")
        self.declared: dict[str, str] = {}  # fully qualified name -> "message" | "enum"
        self.pending: list[tuple[_F, str]] = []  # (field, scope) to resolve

    def next(self) -> str:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def expect(self, tok: str) -> None:
        got = self.next()
        if got != tok:
            raise ValueError(f"frame.proto: expected {tok!r}, got {got!r} (token {self.i})")

    def parse(self) -> descriptor_pb2.FileDescriptorProto:
        while self.i < len(self.toks):
            tok = self.next()
            if tok == "syntax":
                self.expect("=")
                self.next()
                self.expect(";")
            elif tok == "package":
                self.file.package = self.next()
                self.expect(";")
            elif tok == "message":
                self.message(self.file.message_type.add(), self.file.package)
            elif tok == "enum":
                self.enum(self.file.enum_type.add(), self.file.package)
            else:
                raise ValueError(f"frame.proto: unexpected {tok!r}")
        for field, scope in self.pending:
            field.type_name, kind = self.resolve(field.type_name, scope)
            field.type = _F.TYPE_MESSAGE if kind == "message" else _F.TYPE_ENUM
        return self.file

    def resolve(self, name: str, scope: str) -> tuple[str, str]:
        parts = scope.split(".")
        while True:
            fq = ".".join([*parts, name]) if parts else name
            if fq in self.declared:
                return "." + fq, self.declared[fq]
            if not parts:
                raise ValueError(f"frame.proto: unknown type {name!r} in {scope}")
            parts.pop()

    def enum(self, e: descriptor_pb2.EnumDescriptorProto, scope: str) -> None:
        e.name = self.next()
        self.declared[f"{scope}.{e.name}"] = "enum"
        self.expect("{")
        while (tok := self.next()) != "}":
            self.expect("=")
            e.value.add(name=tok, number=int(self.next()))
            self.expect(";")

    def message(self, m: descriptor_pb2.DescriptorProto, scope: str) -> None:
        m.name = self.next()
        full = f"{scope}.{m.name}"
        self.declared[full] = "message"
        self.expect("{")
        while (tok := self.next()) != "}":
            if tok == "message":
                self.message(m.nested_type.add(), full)
            elif tok == "enum":
                self.enum(m.enum_type.add(), full)
            elif tok in _LABELS:
                ftype, fname = self.next(), self.next()
                self.expect("=")
                f = m.field.add(name=fname, number=int(self.next()), label=_LABELS[tok])
                if ftype in _SCALARS:
                    f.type = _SCALARS[ftype]
                else:
                    f.type_name = ftype
                    self.pending.append((f, full))
                tok = self.next()
                if tok == "[":
                    opt, _, val = self.next(), self.expect("="), self.next()
                    if opt == "packed":
                        f.options.packed = val == "true"
                    self.expect("]")
                    tok = self.next()
                if tok != ";":
                    raise ValueError(f"frame.proto: expected ';' after field {fname}, got {tok!r}")
            else:
                raise ValueError(f"frame.proto: unexpected {tok!r} in message {m.name}")


def parse_proto(text: str, name: str = "frame.proto") -> descriptor_pb2.FileDescriptorProto:
    """Parse proto2 subset ``text`` into a FileDescriptorProto (ValueError on bad syntax)."""
    return _Parser(text, name).parse()


@functools.lru_cache(maxsize=1)
def _pool() -> descriptor_pool.DescriptorPool:
    pool = descriptor_pool.DescriptorPool()
    pool.Add(parse_proto(PROTO_PATH.read_text(encoding="utf-8")))
    return pool


@functools.cache
def message_class(name: str) -> Any:
    """The message class ``waymo.open_dataset.<name>`` (e.g. ``"Frame"``, ``"Label"``)."""
    desc = _pool().FindMessageTypeByName(f"waymo.open_dataset.{name}")
    return message_factory.GetMessageClass(desc)

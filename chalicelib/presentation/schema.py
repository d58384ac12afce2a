"""Declared JSON documents: the vocabulary the API's shapes are written in, and its readers.

A shape is a frozen dataclass (the API's are in ``shapes.py``). Each field's annotation gives
its JSON type — ``str``, ``int``, ``bool``, ``float``, ``datetime``, ``date``, a ``str`` enum, another
shape, ``tuple[X, ...]`` (an array), ``dict[str, X]`` (a map), ``Any`` — and ``Annotated``
markers give its bounds: ``Range`` (whole numbers), ``Length`` (characters, items or entries),
``Pattern`` (the whole text; on a map's key type: the keys), ``Choices``, ``Doc`` (the
description), ``As`` (a document of another shape, already rendered) and ``Extra`` (JSON Schema
keywords no marker says). ``None`` in the type admits ``null``. A field's default says whether
it may be left out:

- no default: always present in an answer, required in a request;
- ``= ABSENT``: may be left out of a request; left out of an answer built without it;
- any other value: may be left out of a request, and then means that value (the schema's ``default``).

A shape's docstring is its description in the OpenAPI document; a ``SCHEMA`` class variable adds
keywords for the whole object (``CLOSED`` refuses unknown fields).

A shape may be *derived* from a domain dataclass: it subclasses it and says how in a ``DERIVED``
class variable (``Derived``). Its fields are then the domain class's, declared there once; the
shape redeclares only those the wire says otherwise (a Doc, bounds, a shape for a domain object
held) and lists the ones it leaves out, the properties it says and where its order differs.

The readers: ``Components`` writes JSON Schema (the OpenAPI document), ``fields`` gives the
request parser each field's bounds, ``to_json`` turns a shape into the JSON an answer
carries, and ``from_json`` reads such JSON back into its shape (a document that crossed a wire).
All of them read the same annotations, so the document, the parser and the renderers
cannot disagree about a field. ``copy_as`` builds a shape from a domain object, field by field
by name, so a renderer need not list the fields again.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import inspect
import re
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Annotated, Any, Final, Union, get_args, get_origin, get_type_hints


class _Absent:
    """The value of a field left out of its document."""

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Final[Any] = _Absent()
CLOSED: Final[Mapping[str, Any]] = {"additionalProperties": False}


@dataclass(frozen=True, slots=True)
class Spec:
    """What one declared type allows: its JSON type and bounds, read from its annotation."""

    kind: str  # a JSON Schema type ("string", "integer", "boolean", "number", "array", "object"), "shape" or "any"
    nullable: bool = False
    low: int | None = None  # whole numbers
    high: int | None = None
    min_length: int | None = None  # characters, items or entries
    max_length: int | None = None
    pattern: str | None = None  # the whole text must match (Python's re and ECMA-262 alike)
    choices: tuple[str, ...] | None = None
    format: str | None = None
    items: Spec | None = None  # an array's items, a map's values
    keys: Spec | None = None  # a map's keys
    shape: type | None = None
    doc: str | None = None
    extra: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class Range:
    """Whole numbers from ``low`` to ``high``, both included."""

    low: int
    high: int

    def narrow(self, spec: Spec) -> Spec:
        return replace(spec, low=self.low, high=self.high)


@dataclass(frozen=True, slots=True)
class Length:
    """At least ``low`` and at most ``high`` characters (text), items (arrays) or entries (maps)."""

    low: int | None = None
    high: int | None = None

    def narrow(self, spec: Spec) -> Spec:
        return replace(spec, min_length=self.low, max_length=self.high)


@dataclass(frozen=True, slots=True)
class Pattern:
    """A regular expression the whole text matches (written to work in Python and ECMA-262)."""

    regex: str

    def narrow(self, spec: Spec) -> Spec:
        return replace(spec, pattern=self.regex)


@dataclass(frozen=True, slots=True)
class Choices:
    """The only texts allowed."""

    values: tuple[str, ...]

    @classmethod
    def of(cls, kind: type[enum.StrEnum]) -> Choices:
        return cls(tuple(member.value for member in kind))

    def narrow(self, spec: Spec) -> Spec:
        return replace(spec, choices=self.values)


@dataclass(frozen=True, slots=True)
class Doc:
    """The description of a field or type."""

    text: str

    def narrow(self, spec: Spec) -> Spec:
        return replace(spec, doc=self.text)


@dataclass(frozen=True, slots=True)
class As:
    """The value is a document of ``shape`` already rendered (e.g. stored as JSON)."""

    shape: type

    def narrow(self, spec: Spec) -> Spec:
        return replace(spec, kind="shape", shape=self.shape, items=None, keys=None)


@dataclass(frozen=True)
class Extra:
    """JSON Schema keywords no marker says (e.g. ``contains``)."""

    keywords: Mapping[str, Any]

    def __hash__(self) -> int:  # typing caches Annotated[...] by its arguments
        return hash(tuple(sorted(self.keywords)))

    def narrow(self, spec: Spec) -> Spec:
        return replace(spec, extra=(*spec.extra, *self.keywords.items()))


_SCALARS: dict[object, str] = {str: "string", bool: "boolean", int: "integer", float: "number"}


def spec_of(annotation: object) -> Spec:
    """The Spec of a declared type (see the module's docstring for what may be declared)."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        spec = spec_of(args[0])
        for marker in args[1:]:
            spec = marker.narrow(spec)
        return spec
    if origin in (Union, types.UnionType):
        members = [arg for arg in args if arg is not type(None)]
        if len(members) != 1:
            raise TypeError(f"{annotation}: declare one type, or one type or None")
        return replace(spec_of(members[0]), nullable=True)
    if origin in (tuple, list):
        if origin is tuple and (len(args) != 2 or args[1] is not Ellipsis):
            raise TypeError(f"{annotation}: declare an array as tuple[X, ...]")
        return Spec("array", items=spec_of(args[0]))
    if origin is dict:
        keys = spec_of(args[0])
        if keys.kind != "string":
            raise TypeError(f"{annotation}: a map's keys are text")
        return Spec("object", items=spec_of(args[1]), keys=keys)
    if annotation in _SCALARS:
        return Spec(_SCALARS[annotation])
    if annotation is datetime:
        return Spec("string", format="date-time")
    if annotation is date:
        return Spec("string", format="date")
    if annotation is Any:
        return Spec("any")
    if isinstance(annotation, type) and issubclass(annotation, enum.StrEnum):
        return Spec("string", choices=tuple(member.value for member in annotation))
    if isinstance(annotation, type) and dataclasses.is_dataclass(annotation):
        return Spec("shape", shape=annotation)
    raise TypeError(f"{annotation!r} is no declarable JSON type")


@dataclass(frozen=True, slots=True)
class Derived:
    """How a shape derived from the domain dataclass it subclasses says it (the shape's ``DERIVED``).

    Its fields are the domain class's, in their order, and each is always there (required) but
    for one the shape redeclares with a default of ABSENT: the domain's defaults are the domain's
    business. A field the shape redeclares takes the wire type given there (bounds, a Doc, the
    shape of a domain object it holds) and keeps its place; a field the shape adds comes last.
    """

    unsaid: tuple[str, ...] = ()  # fields the wire leaves out (ABSENT when read back)
    says: tuple[str, ...] = ()  # properties the wire says as fields (their return annotation is their type)
    inline: tuple[str, ...] = ()  # fields whose own (derived) shape's fields are said in their place
    after: Mapping[str, str] = dataclasses.field(default_factory=dict)  # where the order differs: each after the other


@dataclass(frozen=True, slots=True)
class Field:
    """One field of a shape: its name, what it allows, and whether and how it may be left out."""

    name: str
    spec: Spec
    default: Any  # ABSENT when leaving the field out means no value
    required: bool
    path: tuple[str, ...] = ()  # where a derived shape keeps it, when not under its name (an inlined field)


@functools.cache
def fields(shape: type) -> Mapping[str, Field]:
    """The declared fields of a shape, by name, in declaration order (a derived shape's: as it says them)."""
    derived = getattr(shape, "DERIVED", None)
    if derived is not None:
        return types.MappingProxyType(_derived_fields(shape, derived))
    hints = get_type_hints(shape, include_extras=True)
    found: dict[str, Field] = {}
    for declared in dataclasses.fields(shape):
        if declared.default is not dataclasses.MISSING:
            default, required = declared.default, False
        elif declared.default_factory is not dataclasses.MISSING:
            default, required = declared.default_factory(), False
        else:
            default, required = ABSENT, True
        found[declared.name] = Field(declared.name, spec_of(hints[declared.name]), default, required)
    return types.MappingProxyType(found)


def _derived_fields(shape: type, derived: Derived) -> dict[str, Field]:
    hints = get_type_hints(shape, include_extras=True)
    declared = {f.name: f for f in dataclasses.fields(shape)}
    order = [name for name in declared if name not in derived.unsaid] + list(derived.says)
    for name, anchor in derived.after.items():
        order.remove(name)
        order.insert(order.index(anchor) + 1, name)
    found: dict[str, Field] = {}
    for name in order:
        if name in derived.says:
            said = get_type_hints(getattr(shape, name).fget, include_extras=True)["return"]
            said_here = [Field(name, spec_of(said), ABSENT, required=True)]
        elif name in derived.inline:
            inner = fields(_bare(hints[name])).values()
            said_here = [replace(f, path=(name, *(f.path or (f.name,)))) for f in inner]
        else:
            optional = declared[name].default is ABSENT
            said_here = [Field(name, spec_of(hints[name]), ABSENT, required=not optional)]
        for item in said_here:
            if found.setdefault(item.name, item) is not item:
                raise TypeError(f"{shape.__name__} says two fields named {item.name}")
    return found


def _bare(annotation: Any) -> Any:
    """A declared type without its markers."""
    return get_args(annotation)[0] if get_origin(annotation) is Annotated else annotation


def copy_as[S](shape: type[S], value: object, /, **given: Any) -> S:
    """``value`` (a domain object) as ``shape``: each field from ``given``, else from ``value``'s attribute of the
    same name, else the shape's default.

    A domain object it holds becomes the shape the field declares (e.g. a Finding the report's
    Finding), and None becomes ABSENT where the shape may leave the field out but never says null.
    """
    values = dict(given)
    for name, convert, unsaid_none in _copier(shape):
        if name in values:
            continue
        item = getattr(value, name, _MISSING)
        if item is _MISSING:
            continue
        if item is None:
            values[name] = ABSENT if unsaid_none else None
        else:
            values[name] = item if convert is None else convert(item)
    return shape(**values)


_MISSING = object()
type _Convert = Callable[[Any], Any]
_COPIERS: dict[type, tuple[tuple[str, _Convert | None, bool], ...]] = {}


def _copier(shape: type) -> tuple[tuple[str, _Convert | None, bool], ...]:
    """Each field a shape is built with: its name, how a value (not None) becomes what it declares (None: as it
    is), and whether None is left out; worked out once per shape, as every copy reads it."""
    if shape not in _COPIERS:
        hints = get_type_hints(shape, include_extras=True)
        _COPIERS[shape] = tuple(
            (f.name, _converter(hints[f.name]), f.default is ABSENT and not _admits_none(hints[f.name]))
            for f in dataclasses.fields(shape)
            if f.init
        )
    return _COPIERS[shape]


def _admits_none(annotation: Any) -> bool:
    annotation = _bare(annotation)
    return get_origin(annotation) in (Union, types.UnionType) and type(None) in get_args(annotation)


def _converter(annotation: Any) -> _Convert | None:
    """How a value of a declared type (not None) becomes what it declares: a domain object the shape declared for
    it, in tuples and maps too; None when it stays as it is."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return _converter(args[0])
    if origin in (Union, types.UnionType):
        (member,) = [arg for arg in args if arg is not type(None)]
        return _converter(member)
    if origin in (tuple, list):
        each = _converter(args[0])
        if each is None:
            return tuple
        return lambda items: tuple(None if item is None else each(item) for item in items)
    if origin is dict:
        inner = _converter(args[1])
        if inner is None:
            return dict
        return lambda items: {key: None if item is None else inner(item) for key, item in items.items()}
    if isinstance(annotation, type) and dataclasses.is_dataclass(annotation):
        shape = annotation

        def convert(item: Any) -> Any:
            if isinstance(item, shape) or not dataclasses.is_dataclass(item):
                return item
            return copy_as(shape, item)

        return convert
    return None


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with a ``Z``, the one timestamp format certwatch writes."""
    if moment is None:
        return None
    in_utc = moment if moment.tzinfo is UTC else moment.astimezone(UTC)
    return in_utc.replace(tzinfo=None, microsecond=0).isoformat() + "Z"


_PLAIN = frozenset({str, int, float, bool, type(None)})


def to_json(value: Any) -> Any:
    """A shape (and what it holds) as JSON data: enums as their values, times as ``iso``, ABSENT fields left out."""
    kind = type(value)
    if kind in _PLAIN:
        return value
    render = _RENDERERS.get(kind)
    if render is None:
        render = _RENDERERS[kind] = _renderer(kind)
    return render(value)


_RENDERERS: dict[type, Callable[[Any], Any]] = {}


def _renderer(kind: type) -> Callable[[Any], Any]:
    """How ``to_json`` renders a value of ``kind`` (not a plain one), worked out once per type."""
    if dataclasses.is_dataclass(kind):
        if hasattr(kind, "DERIVED"):
            paths = tuple((f.name, f.path or (f.name,)) for f in fields(kind).values())
        else:
            paths = tuple((f.name, (f.name,)) for f in dataclasses.fields(kind))
        flat = tuple((name, path[0]) for name, path in paths if len(path) == 1)
        if len(flat) == len(paths):  # the common case, read without walking paths
            return lambda value: {
                name: item if type(item) in _PLAIN else to_json(item)
                for name, attribute in flat
                if (item := getattr(value, attribute)) is not ABSENT
            }
        return lambda value: {name: to_json(item) for name, path in paths if (item := _at(value, path)) is not ABSENT}
    if issubclass(kind, enum.Enum):
        return lambda value: value.value
    if issubclass(kind, datetime):
        return iso
    if issubclass(kind, date):
        return lambda value: value.isoformat()
    if issubclass(kind, list | tuple):
        return lambda value: [item if type(item) in _PLAIN else to_json(item) for item in value]
    if issubclass(kind, dict):
        return lambda value: {key: to_json(item) for key, item in value.items()}
    return lambda value: value


def from_json[T](shape: type[T], data: Any) -> T:
    """A shape read back from the JSON ``to_json`` wrote (a document that crossed a wire): its declared
    types checked, nothing more kept than it declares. ValueError names the first field that does not fit.
    """
    value: T = _read(shape, data, shape.__name__)
    return value


def _read(annotation: Any, data: Any, where: str) -> Any:
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return _read(args[0], data, where)
    if origin in (Union, types.UnionType):
        if data is None and type(None) in args:
            return None
        (member,) = [arg for arg in args if arg is not type(None)]
        return _read(member, data, where)
    if origin in (tuple, list):
        return tuple(_read(args[0], item, f"{where}[{i}]") for i, item in enumerate(_expect(list, data, where)))
    if origin is dict:
        items = _expect(dict, data, where).items()
        return {str(key): _read(args[1], item, f"{where}.{key}") for key, item in items}
    if annotation is Any:
        return data
    if isinstance(annotation, type) and dataclasses.is_dataclass(annotation):
        return _read_shape(annotation, _expect(dict, data, where), where)
    return _read_scalar(annotation, data, where)


def _expect[T](kind: type[T], data: Any, where: str) -> T:
    if not isinstance(data, kind):
        raise ValueError(f"{where}: expected {'a list' if kind is list else 'an object'}")
    return data


def _read_scalar(annotation: Any, data: Any, where: str) -> Any:
    """A date-time, an enum's value, or a JSON scalar, as declared."""
    if annotation is datetime:
        if not isinstance(data, str):
            raise ValueError(f"{where}: expected a date-time")
        try:
            return datetime.fromisoformat(data).astimezone(UTC)
        except ValueError:
            raise ValueError(f"{where}: {data!r} is no date-time") from None
    if annotation is date:
        if not isinstance(data, str):
            raise ValueError(f"{where}: expected a date")
        try:
            return date.fromisoformat(data)
        except ValueError:
            raise ValueError(f"{where}: {data!r} is no date") from None
    if isinstance(annotation, type) and issubclass(annotation, enum.StrEnum):
        try:
            return annotation(data)
        except ValueError:
            raise ValueError(f"{where}: {data!r} is none of {', '.join(m.value for m in annotation)}") from None
    if annotation in _SCALARS:
        if annotation is float and isinstance(data, int) and not isinstance(data, bool):
            return float(data)
        if type(data) is not annotation:
            raise ValueError(f"{where}: expected {_SCALARS[annotation]}")
        return data
    raise TypeError(f"{annotation!r} is no declarable JSON type")


def _read_shape(shape: type, data: dict[str, Any], where: str) -> Any:
    """A declared shape from its JSON object: every field it declares, none it does not."""
    hints = get_type_hints(shape, include_extras=True)
    declared = fields(shape)
    derived = getattr(shape, "DERIVED", Derived())
    if derived.inline:
        raise TypeError(f"{shape.__name__} says inlined fields: it is not read back")
    unknown = sorted(set(data) - set(declared))
    if unknown:
        raise ValueError(f"{where}: undeclared field {unknown[0]!r}")
    values = dict.fromkeys(derived.unsaid, ABSENT)
    for name, declaration in declared.items():
        if name in derived.says:  # a property: it follows from the rest
            continue
        if name in data:
            values[name] = _read(hints[name], data[name], f"{where}.{name}")
        elif declaration.required:
            raise ValueError(f"{where}: {name} is missing")
    return shape(**values)


def _at(value: Any, path: tuple[str, ...]) -> Any:
    for name in path:
        value = getattr(value, name)
    return value


class Components:
    """JSON Schema of declared types; each shape once, under ``#/components/schemas/<its class name>``."""

    def __init__(self) -> None:
        self.schemas: dict[str, dict[str, Any]] = {}
        self._shapes: dict[str, type] = {}

    def ref(self, shape: type) -> dict[str, Any]:
        """A reference to ``shape``'s schema, written on first use."""
        name = shape.__name__
        if self._shapes.setdefault(name, shape) is not shape:
            raise TypeError(f"two shapes are named {name}")
        if name not in self.schemas:
            self.schemas[name] = {}  # taken before it is written, so a shape may hold itself
            self.schemas[name] = self._object(shape)
        return {"$ref": f"#/components/schemas/{name}"}

    def schema(self, annotation: object) -> dict[str, Any]:
        """The JSON Schema of any declared type (a shape is a reference to its component)."""
        return self.of(spec_of(annotation))

    def of(self, spec: Spec) -> dict[str, Any]:
        """The JSON Schema of a Spec."""
        schema: dict[str, Any]
        if spec.kind == "shape":
            assert spec.shape is not None
            schema = self.ref(spec.shape)
        elif spec.kind == "any":
            schema = {}
        else:
            schema = {"type": spec.kind}
        if spec.format is not None:
            schema["format"] = spec.format
        if spec.choices is not None:
            schema["enum"] = list(spec.choices)
        if spec.low is not None:
            schema["minimum"] = spec.low
        if spec.high is not None:
            schema["maximum"] = spec.high
        counted = {"string": "Length", "array": "Items", "object": "Properties"}.get(spec.kind)
        if counted is not None and spec.min_length is not None:
            schema[f"min{counted}"] = spec.min_length
        if counted is not None and spec.max_length is not None:
            schema[f"max{counted}"] = spec.max_length
        if spec.pattern is not None:
            schema["pattern"] = f"^(?:{spec.pattern})$"
        if spec.kind == "array" and spec.items is not None:
            schema["items"] = self.of(spec.items)
        if spec.kind == "object" and spec.items is not None:
            if spec.keys is not None and spec.keys.pattern is not None:
                schema["propertyNames"] = {"pattern": f"^(?:{spec.keys.pattern})$"}
            schema["additionalProperties"] = self.of(spec.items)
        schema.update(spec.extra)
        if spec.nullable:
            schema = _nullable(schema)
        if spec.doc is not None:
            schema["description"] = spec.doc
        return schema

    def _object(self, shape: type) -> dict[str, Any]:
        declared = fields(shape)
        properties = {}
        for field in declared.values():
            properties[field.name] = self.of(field.spec)
            if field.default is not ABSENT:
                properties[field.name]["default"] = to_json(field.default)
        doc = re.sub(r"(?<!\n)\n(?!\n)", " ", inspect.cleandoc(shape.__doc__ or ""))  # a paragraph is one line
        if not doc or doc.startswith(f"{shape.__name__}("):  # dataclass() writes one from the signature
            raise TypeError(f"{shape.__name__} has no docstring: it is the shape's description")
        schema: dict[str, Any] = {"type": "object", "description": doc}
        required = [field.name for field in declared.values() if field.required]
        if required:
            schema["required"] = required
        schema["properties"] = properties
        schema.update(getattr(shape, "SCHEMA", {}))
        return schema


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    if isinstance(schema.get("type"), str):
        nullable = {**schema, "type": [schema["type"], "null"]}
        if "enum" in schema:
            nullable["enum"] = [*schema["enum"], None]
        return nullable
    if not schema:
        return schema
    return {"anyOf": [schema, {"type": "null"}]}

"""The API's shapes, declared once: the OpenAPI document, the request parser and the renderers read
the same declaration (chalicelib/presentation/shapes.py, written in the vocabulary of schema.py)."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar

import pytest

from app import app
from chalicelib.errors import InvalidRequestError
from chalicelib.http import payloads
from chalicelib.http.openapi import openapi_document
from chalicelib.presentation import shapes
from chalicelib.presentation.schema import (
    ABSENT,
    Components,
    Derived,
    Doc,
    Field,
    Length,
    Range,
    copy_as,
    fields,
    from_json,
    spec_of,
    to_json,
)

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def schemas() -> dict[str, Any]:
    components: dict[str, Any] = openapi_document(app.routes)["components"]["schemas"]
    return components


# --- one declaration, three readers -------------------------------------------------------------


def test_a_field_added_to_a_declared_shape_is_parsed_and_documented(monkeypatch: pytest.MonkeyPatch) -> None:
    body = {"target": "a.example.com", "colour": "red"}
    with pytest.raises(InvalidRequestError) as refused:
        payloads.target_spec(body)
    assert (refused.value.code, refused.value.field) == ("unknown_field", "colour")
    assert "colour" not in schemas()["TargetInput"]["properties"]

    @dataclass(frozen=True, slots=True)
    class TargetInput(shapes.TargetInput):
        """TargetInput as declared, and one more field."""

        colour: Annotated[str, Length(high=5), Doc("A colour")] = ABSENT

    monkeypatch.setattr(shapes, "TargetInput", TargetInput)

    assert payloads.target_spec(body).endpoint.host == "a.example.com"
    assert payloads.bulk_rows(b"target,colour\na.example.com,red\n", "text/csv")[0] == payloads.target_spec(body)
    documented = schemas()["TargetInput"]
    assert documented["properties"]["colour"] == {"type": "string", "maxLength": 5, "description": "A colour"}
    assert documented["additionalProperties"] is False


@pytest.mark.parametrize(
    ("shape", "parse", "base"),
    [
        (shapes.TargetInput, payloads.target_spec, {"target": "a.example.com"}),
        (shapes.TargetChanges, payloads.target_changes, {"notes": "n"}),
    ],
)
def test_the_parser_takes_exactly_the_fields_the_closed_schema_documents(
    shape: type, parse: Callable[[object], object], base: dict[str, Any]
) -> None:
    """The alert_days drift (taken by the parser, missing from a closed schema) cannot come back."""
    documented = schemas()[shape.__name__]

    assert documented["additionalProperties"] is False
    assert "alert_days" in documented["properties"]
    assert list(documented["properties"]) == list(fields(shape))
    for name in documented["properties"]:
        try:
            parse({**base, name: None})
        except InvalidRequestError as exc:
            code = exc.code
        else:
            code = "taken"
        assert code != "unknown_field", name
    with pytest.raises(InvalidRequestError) as refused:
        parse({**base, "colour": "red"})
    assert refused.value.code == "unknown_field"


def _hostname(length: int) -> str:
    labels = []
    while length > 0:
        label = min(63, length)
        labels.append("a" * label)
        length -= label + 1
    return ".".join(labels)[: sum(len(part) for part in labels) + len(labels) - 1]


def edges(field: Field) -> tuple[list[object], list[object]]:
    """Values at a declared field's bounds (taken) and just beyond them (refused), from its declaration."""
    spec = field.spec
    if spec.kind == "integer":
        assert spec.low is not None, field
        assert spec.high is not None, field
        return [spec.low, spec.high], [spec.low - 1, spec.high + 1, "7", True]
    if spec.kind == "boolean":
        return [True, False], ["yes", 1]
    if spec.choices is not None:
        return list(spec.choices), ["gopher"]
    if spec.kind == "string" and field.name in ("target", "host"):
        assert spec.min_length == 1
        return ["a.example.com"], ["", 7]
    if spec.kind == "string" and field.name == "sni":
        assert spec.max_length is not None
        return [_hostname(spec.max_length)], [_hostname(spec.max_length + 1), 7]
    if spec.kind == "string" and field.name == "ca_bundle":  # what fits must be PEM too: see test_api
        assert spec.max_length is not None
        return [], ["x" * (spec.max_length + 1), 7]
    if spec.kind == "string" and field.name == "runbook_url":  # what fits must be an http(s) URL too
        assert spec.max_length is not None
        url = "https://wiki.example.com/"
        return [url + "x" * (spec.max_length - len(url))], [url + "x" * (spec.max_length - len(url) + 1), 7]
    if spec.kind == "string":
        assert spec.max_length is not None, field
        return ["x" * spec.max_length], ["x" * (spec.max_length + 1), 7]
    if spec.kind == "object":
        most, longest = spec.max_length, spec.items.max_length if spec.items else None
        assert most is not None
        assert longest is not None
        full = {f"k{i}": "v" * longest for i in range(most)}
        return [full, {"a-Z_0.9/x" * 7: "v"}], [
            {f"k{i}": "v" for i in range(most + 1)},
            {"k": "v" * (longest + 1)},
            {"bad key": "v"},
            {"k" * 65: "v"},
            {"k": 7},
            ["k"],
        ]
    if spec.kind == "array":
        fewest, most = spec.min_length, spec.max_length
        low, high = (spec.items.low, spec.items.high) if spec.items else (None, None)
        assert fewest is not None
        assert most is not None
        assert low is not None
        assert high is not None
        return [[high] * fewest, list(range(low, low + most))], [
            [low] * (fewest - 1),
            [low] * (most + 1),
            [low - 1],
            [high + 1],
            [True],
            "7",
        ]
    if spec.kind == "shape" and field.name == "posture":  # a PostureInput: each of its fields, and null
        whole = {
            "require_post_quantum": True,
            "quantum_safe_signatures_by": "2030-01-01",
            "note_classical": False,
            "legacy_tls": True,
        }
        return [{}, whole, {"quantum_safe_signatures_by": None}, None], [
            {"colour": 1},
            {"legacy_tls": "yes"},
            {"require_post_quantum": 1},
            {"quantum_safe_signatures_by": "2030"},
            {"quantum_safe_signatures_by": "2030-02-30"},
            "strict",
            [],
        ]
    raise AssertionError(f"no edges for {field}")


def _cases() -> list[tuple[str, str, object, bool]]:
    cases = []
    for shape in (shapes.TargetInput, shapes.TargetChanges):
        for field in fields(shape).values():
            taken, refused = edges(field)
            cases += [(shape.__name__, field.name, value, True) for value in taken]
            cases += [(shape.__name__, field.name, value, False) for value in refused]
    return cases


@pytest.mark.parametrize(("shape", "name", "value", "taken"), _cases())
def test_every_declared_bound_is_the_parsers_bound(shape: str, name: str, value: object, taken: bool) -> None:
    # Thresholds that let warn_days and critical_days reach either bound without breaking critical <= warn.
    body: dict[str, Any] = {"warn_days": shapes.MAX_DAYS, "critical_days": 0} if shape == "TargetInput" else {}
    if shape == "TargetInput" and name not in ("target", "host"):
        body["host" if name in ("port", "protocol") else "target"] = "a.example.com"
    if name == "protocol":
        body["port"] = 8443  # some protocols have no port of their own (tls://)
    body[name] = value
    parse = payloads.target_spec if shape == "TargetInput" else payloads.target_changes

    if taken:
        parse(body)
    else:
        with pytest.raises(InvalidRequestError) as refused:
            parse(body)
        assert refused.value.field == name


@pytest.mark.parametrize(
    ("name", "read"),
    [
        ("limit", payloads.page_limit),
        ("expiring_within_days", lambda query: payloads.target_filter(query, NOW)),
    ],
)
def test_the_query_strings_bounds_are_the_parsers_bounds(name: str, read: Callable[[dict[str, str]], object]) -> None:
    spec = fields(shapes.TargetQuery)[name].spec
    assert spec.low is not None
    assert spec.high is not None

    for value in (spec.low, spec.high):
        read({name: str(value)})
    for value in (spec.low - 1, spec.high + 1):
        with pytest.raises(InvalidRequestError) as refused:
            read({name: str(value)})
        assert refused.value.field == name


def test_defaults_are_declared_once() -> None:
    spec = payloads.target_spec({"target": "a.example.com"})
    declared = fields(shapes.TargetInput)

    assert (spec.warn_days, spec.critical_days, spec.check_interval_minutes) == (
        declared["warn_days"].default,
        declared["critical_days"].default,
        declared["check_interval_minutes"].default,
    )
    assert spec.endpoint.protocol == declared["protocol"].default
    assert payloads.page_limit({}) == fields(shapes.PageQuery)["limit"].default
    assert schemas()["TargetInput"]["properties"]["warn_days"]["default"] == spec.warn_days


# --- the vocabulary -------------------------------------------------------------------------------


class Colour(enum.StrEnum):
    RED = "red"
    BLUE = "blue"


@dataclass(frozen=True, slots=True)
class Inner:
    """A shape held by another."""

    size: Annotated[int, Range(1, 3)]


@dataclass(frozen=True, slots=True)
class Outer:
    """A shape holding another."""

    inner: Inner | None
    colour: Colour | None
    seen: datetime
    tags: tuple[str, ...]
    note: str = ABSENT


def test_null_is_allowed_as_the_declaration_says() -> None:
    components = Components()
    components.ref(Outer)
    properties = components.schemas["Outer"]["properties"]

    assert properties["inner"] == {"anyOf": [{"$ref": "#/components/schemas/Inner"}, {"type": "null"}]}
    assert properties["colour"] == {"type": ["string", "null"], "enum": ["red", "blue", None]}
    assert components.schemas["Outer"]["required"] == ["inner", "colour", "seen", "tags"]
    assert components.schemas["Inner"]["properties"]["size"] == {"type": "integer", "minimum": 1, "maximum": 3}


def test_a_shape_is_written_as_json_without_its_absent_fields() -> None:
    shown = Outer(inner=Inner(2), colour=Colour.RED, seen=NOW, tags=("a",))

    assert to_json(shown) == {"inner": {"size": 2}, "colour": "red", "seen": "2026-11-27T12:00:00Z", "tags": ["a"]}
    assert to_json(Outer(inner=None, colour=None, seen=NOW, tags=(), note="n"))["note"] == "n"


@pytest.mark.parametrize("annotation", [tuple[int, int], int | str, dict[int, str], complex, list])
def test_what_json_cannot_say_is_refused_when_declared(annotation: object) -> None:
    with pytest.raises(TypeError):
        spec_of(annotation)


def test_a_shape_without_a_docstring_is_refused_because_it_is_the_description() -> None:
    @dataclass(frozen=True)
    class Undocumented:
        size: int

    with pytest.raises(TypeError, match="no docstring"):
        Components().ref(Undocumented)


# --- shapes derived from the domain ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reading:
    """A domain dataclass: what a sensor read (its defaults are the domain's)."""

    sensor: str
    value: int
    taken_at: datetime
    note: str | None = None
    secret: str = "s"
    tags: tuple[Inner, ...] = ()

    @property
    def doubled(self) -> int:
        return self.value * 2


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadingShape(Reading):
    """A reading on the wire."""

    DERIVED: ClassVar = Derived(unsaid=("secret",), says=("doubled",), after={"doubled": "sensor"})

    note: Annotated[str, Doc("Why")] = ABSENT
    tags: tuple[InnerShape, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class InnerShape(Inner):
    """An inner on the wire."""

    DERIVED: ClassVar = Derived()


def test_a_derived_shape_says_the_domain_fields_but_what_it_leaves_out_in_its_own_order() -> None:
    declared = fields(ReadingShape)
    schema = Components()
    schema.ref(ReadingShape)

    assert list(declared) == ["sensor", "doubled", "value", "taken_at", "note", "tags"]
    assert [name for name, field in declared.items() if not field.required] == ["note"]
    assert schema.schemas["ReadingShape"]["required"] == ["sensor", "doubled", "value", "taken_at", "tags"]
    assert schema.schemas["ReadingShape"]["properties"]["note"] == {"type": "string", "description": "Why"}
    assert "default" not in schema.schemas["ReadingShape"]["properties"]["tags"]  # the domain's default is not said


def test_a_domain_object_is_copied_into_its_shape_by_name() -> None:
    reading = Reading("t1", 21, NOW, tags=(Inner(2),))

    shown = copy_as(ReadingShape, reading)

    assert isinstance(shown.tags[0], InnerShape)
    assert (shown.note, shown.secret) == (ABSENT, "s")  # None where null is not said: left out
    assert to_json(shown) == {
        "sensor": "t1",
        "doubled": 42,
        "value": 21,
        "taken_at": "2026-11-27T12:00:00Z",
        "tags": [{"size": 2}],
    }
    assert to_json(copy_as(ReadingShape, reading, note="checked"))["note"] == "checked"


def test_a_derived_document_reads_back_without_what_it_leaves_out() -> None:
    data = to_json(copy_as(ReadingShape, Reading("t1", 21, NOW)))

    read = from_json(ReadingShape, data)

    assert (read.sensor, read.value, read.doubled, read.note, read.secret) == ("t1", 21, 42, ABSENT, ABSENT)
    with pytest.raises(ValueError, match="value is missing"):
        from_json(ReadingShape, {key: value for key, value in data.items() if key != "value"})


@dataclass(frozen=True, slots=True)
class Batch:
    """A domain dataclass holding another, which the wire says in place."""

    id: str
    first: Reading
    size: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchShape(Batch):
    """A batch on the wire, its first reading's fields in it."""

    DERIVED: ClassVar = Derived(inline=("first",), after={"size": "id"})

    first: ReadingShape


def test_an_inlined_field_says_its_own_fields_in_its_place() -> None:
    shown = copy_as(BatchShape, Batch("b1", Reading("t1", 21, NOW)))

    assert list(fields(BatchShape)) == ["id", "size", "sensor", "doubled", "value", "taken_at", "note", "tags"]
    assert to_json(shown) == {
        "id": "b1",
        "size": 1,
        "sensor": "t1",
        "doubled": 42,
        "value": 21,
        "taken_at": "2026-11-27T12:00:00Z",
        "tags": [],
    }
    with pytest.raises(TypeError, match="not read back"):
        from_json(BatchShape, to_json(shown))

"""The OpenAPI 3.1 document of the HTTP API (``GET /openapi.json``), generated from the app's routes.

Each route in app.py carries its documentation, declared once beside it: an ``Operation``, used
as the decorator under ``@app.route``. The document walks the app's route table (path -> method ->
route), so its paths and methods are the app's, and a route without an ``Operation`` stops the
document from being built (a new route cannot be left undocumented). What follows from the route
itself is not declared again:

- security: a route without an authorizer is public (``security: []``), any other takes a bearer token;
- path parameters: each ``{name}`` of the path, with the pattern of its id (``_PATH_IDS``);
- the query string: the declared query shape, or ``TeamQuery`` (``?team=``) on an authorized route;
- error statuses: 400, 401, 403, 429 and 503 on every authorized route (the query string is
  validated, the token checked, the store reached), 404 where the path holds an id, 413 where a
  body is taken (``api.raw_body``), 415 on POST and PATCH (Chalice refuses another Content-Type);
  an operation declares only the others (409, 422, a 404 a path without an id can answer).

Every request body, query string and answer is the JSON Schema of a shape declared in
``chalicelib/presentation/shapes.py``, the declaration the request parser and the renderers use
too; the few answers and bodies no shape declares are ``Content`` constants here. The API tests
check every request and answer against this document.
"""

from __future__ import annotations

import copy
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from chalicelib import __version__
from chalicelib.presentation import shapes
from chalicelib.presentation.event_shapes import EventDocument
from chalicelib.presentation.schema import ABSENT, Components, fields, to_json

_ERRORS = {
    400: "Malformed JSON, an invalid or unknown field or query parameter",
    401: "Missing, invalid or revoked token",
    403: "A team token named another team",
    404: "No such target for this team",
    409: "The team already registered this endpoint, or watches this domain (error.existing_id names it)",
    413: "Request body over 1 MiB",
    415: "The body's Content-Type is not one the operation takes",
    422: "The target names or resolves to a forbidden (non-public) address",
    429: "Throttled; retry after the Retry-After header's seconds",
    503: "The data store is out of reach (unavailable) or certwatch is not configured (not_configured)",
}
_AUTHORIZED_ERRORS = frozenset({400, 401, 403, 429, 503})
_BODY_METHODS = frozenset({"POST", "PATCH"})
# The ids certwatch makes, by the name a path gives them.
_PATH_IDS = {
    "target_id": "tg_[0-9a-f]{20}",
    "silence_id": "si_[0-9a-f]{16}",
    "window_id": "mw_[0-9a-f]{16}",
    "domain_id": "dm_[0-9a-f]{16}",
}
_PATH_PARAMETER = re.compile(r"\{(\w+)\}")
_BEARER: list[dict[str, list[str]]] = [{"bearer": []}]
_DECLARED = "openapi_operation"  # the view function's attribute holding its Operation


@dataclass(frozen=True, slots=True)
class Media:
    """One media type of a body: its schema and an example.

    The schema is a declared type (a shape or an annotation of ``shapes.py``), a tuple of them (any
    one of them: ``oneOf``), or a JSON Schema written out (a Mapping) where no shape declares it.
    """

    schema: object
    example: str | None = None


@dataclass(frozen=True, slots=True)
class Content:
    """A body in other media types than one JSON shape: each media type and what it holds."""

    media: Mapping[str, Media]


@dataclass(frozen=True, slots=True)
class Operation:
    """One route's documentation, declared once under its ``@app.route`` (it decorates the view).

    ``answer`` is the success answer: its status, its body (a declared type, sent as JSON; a
    ``Content``; or None for no body) and its description. ``body`` is the request body in the same
    forms. ``errors`` are the error statuses the route's form does not imply (see the module).
    """

    summary: str
    answer: tuple[int, object, str]
    description: str | None = None
    query: type | None = None
    body: object = None
    body_required: bool = True
    errors: tuple[int, ...] = ()

    def __call__[V: Callable[..., Any]](self, view: V) -> V:
        setattr(view, _DECLARED, self)
        return view


class Route(Protocol):
    """What the document reads of a Chalice route (``chalice.app.RouteEntry``)."""

    @property
    def view_function(self) -> Callable[..., Any]: ...

    @property
    def authorizer(self) -> object: ...


# --- what a few routes answer or take that no shape declares ---------------------------------------

_TEXT = {"type": "string"}
DOCUMENT = Content({"application/json": Media({"type": "object"})})
PAGE = Content({"text/html": Media(_TEXT)})
SERIES = Content({"application/openmetrics-text": Media(_TEXT), "text/plain": Media(_TEXT)})
CBOM = Content(
    {
        "application/vnd.cyclonedx+json": Media(
            {
                "type": "object",
                "required": ["bomFormat", "specVersion"],
                "properties": {
                    "bomFormat": {"const": "CycloneDX"},
                    "specVersion": {"const": "1.6"},
                    "components": {"type": "array", "items": {"type": "object"}},
                    "services": {"type": "array", "items": {"type": "object"}},
                    "dependencies": {"type": "array", "items": {"type": "object"}},
                },
            }
        )
    }
)
BULK_TARGETS = Content(
    {
        "application/json": Media((shapes.BulkRows, shapes.BulkUpload)),
        "text/csv": Media(_TEXT, example="target,labels,warn_days\nexample.com,env=prod;tier=1,21\n"),
    }
)

# --- descriptions too long for a declaration in app.py ---------------------------------------------

METRICS_DESCRIPTION = (
    "From the stored results, never a check per scrape: blackbox_exporter's and ssl_exporter's series under "
    "their own names, and certwatch's (docs/metrics.md). OpenMetrics when the Accept header names "
    "application/openmetrics-text first (gzipped when Accept-Encoding allows), else the classic text format."
)
CBOM_DESCRIPTION = (
    "From the stored results, never a check: a cryptographic-asset component per certificate, algorithm, "
    "public key and TLS protocol an endpoint negotiated, each endpoint a service, with dependencies endpoint → "
    "protocol → certificate → algorithms; certificates held in ACM and IAM for admin tokens and the team named "
    "by CERTWATCH_ACM_TEAM (docs/cbom.md)."
)


def declared(route: Route) -> Operation:
    """The Operation a route's view carries; a route without one is a mistake, refused by name."""
    operation = getattr(route.view_function, _DECLARED, None)
    if not isinstance(operation, Operation):
        name = getattr(route.view_function, "__name__", route.view_function)
        raise TypeError(f"the route of {name} declares no openapi.Operation: decorate it under its @app.route")
    return operation


def _current[T](annotation: T) -> T:
    """A declared class as its module declares it when the document is built.

    The shapes' own annotations are resolved in their module then (``get_type_hints``), and the
    parser reads ``shapes.X`` per request, so a shape replaced in its module (as a test does) is
    documented as it is parsed, never beside an older class of the same name.
    """
    if isinstance(annotation, type):
        return getattr(sys.modules[annotation.__module__], annotation.__qualname__, annotation)
    return annotation


def _path_parameter(path: str, name: str) -> dict[str, Any]:
    """A path parameter holding an id certwatch made."""
    if name not in _PATH_IDS:
        raise TypeError(f"{path}: no id pattern is declared for {{{name}}} (openapi._PATH_IDS)")
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "string", "pattern": f"^{_PATH_IDS[name]}$"},
        "description": "Any other text is a 404 too",
    }


def _error_statuses(path: str, method: str, operation: Operation, authorized: bool) -> list[int]:
    """The operation's error statuses: those its route's form implies (see the module) and its own."""
    implied: set[int] = set()
    if authorized:
        implied |= _AUTHORIZED_ERRORS
        if _PATH_PARAMETER.search(path):
            implied.add(404)
        if operation.body is not None:
            implied.add(413)
        if method in _BODY_METHODS:
            implied.add(415)
    return sorted(implied | set(operation.errors))


class _Document:
    """Operations written against one set of components."""

    def __init__(self) -> None:
        self.components = Components()

    def operation(self, path: str, method: str, route: Route) -> dict[str, Any]:
        """The OpenAPI operation of one route, from its declaration and its form."""
        declaration = declared(route)
        authorized = route.authorizer is not None
        operation: dict[str, Any] = {"summary": declaration.summary}
        if declaration.description is not None:
            operation["description"] = declaration.description
        if not authorized:
            operation["security"] = []
        parameters = [_path_parameter(path, name) for name in _PATH_PARAMETER.findall(path)]
        query = declaration.query or (shapes.TeamQuery if authorized else None)
        if query is not None:
            parameters += self.query(query)
        if parameters:
            operation["parameters"] = parameters
        if declaration.body is not None:
            operation["requestBody"] = {
                "required": declaration.body_required,
                "content": self.content(declaration.body),
            }
        status, answer, description = declaration.answer
        success: dict[str, Any] = {"description": description}
        if answer is not None:
            success["content"] = self.content(answer)
        operation["responses"] = {str(status): success} | self.errors(
            *_error_statuses(path, method, declaration, authorized)
        )
        operation.setdefault("security", _BEARER)
        return operation

    def content(self, body: object) -> dict[str, Any]:
        """A body's content: one declared type as JSON, or each media type of a Content."""
        if not isinstance(body, Content):
            return {"application/json": {"schema": self.schema(body)}}
        content: dict[str, Any] = {}
        for media_type, media in body.media.items():
            content[media_type] = {"schema": self.schema(media.schema)}
            if media.example is not None:
                content[media_type]["example"] = media.example
        return content

    def schema(self, declared_as: object) -> dict[str, Any]:
        """The JSON Schema of a Media's schema (see ``Media``)."""
        if isinstance(declared_as, Mapping):
            return copy.deepcopy(dict(declared_as))
        if isinstance(declared_as, tuple):
            return {"oneOf": [self.components.schema(_current(member)) for member in declared_as]}
        return self.components.schema(_current(declared_as))

    def errors(self, *statuses: int) -> dict[str, Any]:
        return {
            str(status): {"description": _ERRORS[status], "content": self.content(shapes.Error)} for status in statuses
        }

    def query(self, shape: type) -> list[dict[str, Any]]:
        """A query string shape as the operation's query parameters."""
        parameters = []
        for field in fields(_current(shape)).values():
            schema = self.components.of(field.spec)
            parameter = {"name": field.name, "in": "query", "required": field.required}
            if "description" in schema:
                parameter["description"] = schema.pop("description")
            if field.default is not ABSENT:
                schema["default"] = to_json(field.default)
            parameters.append({**parameter, "schema": schema})
        return parameters


def openapi_document(routes: Mapping[str, Mapping[str, Route]]) -> dict[str, Any]:
    """The OpenAPI 3.1 description of every route of ``routes`` (a Chalice app's ``routes``)."""
    doc = _Document()
    paths = {
        path: {method.lower(): doc.operation(path, method, route) for method, route in methods.items()}
        for path, methods in routes.items()
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "certwatch",
            "version": __version__,
            "description": "Register the TLS endpoints certwatch watches for your team. "
            "Authenticate with `Authorization: Bearer <token>` (see `certwatch token create`).",
        },
        "paths": paths,
        "webhooks": {
            "event": {
                "post": {
                    "summary": "An alert event: the alerts topic's message, and the body a generic webhook receives",
                    "description": "Signed the Standard Webhooks way (headers webhook-id, webhook-timestamp, "
                    "webhook-signature); docs/alerts.md says how to verify it.",
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": doc.components.ref(EventDocument)}},
                    },
                    "responses": {"2XX": {"description": "Taken; any other answer is retried, then given up"}},
                }
            }
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": doc.components.schemas,
        },
    }

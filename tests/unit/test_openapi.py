"""The OpenAPI document follows from the app's routes: each declares its Operation once, beside it,
and what the route's form says (authorizer, path, method, body) is not declared again."""

from __future__ import annotations

from typing import Any

import pytest
from chalice.app import AuthRequest, AuthResponse, Chalice

from app import app
from chalicelib.http import openapi
from chalicelib.presentation import shapes

ANSWER = (200, shapes.Health, "Up")


def small_app() -> tuple[Chalice, Any]:
    """A Chalice app with an authorizer, for routes a test adds."""
    made = Chalice(app_name="openapi-test")

    @made.authorizer()
    def auth(request: AuthRequest) -> AuthResponse:
        return AuthResponse(routes=["*"], principal_id="nobody")

    return made, auth


def test_every_route_of_the_app_declares_its_operation() -> None:
    for path, methods in app.routes.items():
        for method, route in methods.items():
            assert isinstance(openapi.declared(route), openapi.Operation), (path, method)


def test_a_route_without_an_operation_stops_the_document_naming_its_view() -> None:
    made, _ = small_app()

    @made.route("/documented", methods=["GET"])
    @openapi.Operation("Documented", answer=ANSWER)
    def documented() -> None: ...

    @made.route("/forgotten", methods=["GET"])
    def forgotten() -> None: ...

    with pytest.raises(TypeError, match=r"the route of forgotten declares no openapi\.Operation"):
        openapi.openapi_document(made.routes)


def test_security_path_parameters_query_and_errors_follow_from_the_route() -> None:
    made, auth = small_app()

    @made.route("/open", methods=["GET"])
    @openapi.Operation("Public", answer=ANSWER)
    def public() -> None: ...

    @made.route("/things/{target_id}", methods=["PATCH"], authorizer=auth)
    @openapi.Operation("Change", body=shapes.TargetChanges, answer=(200, shapes.Target, "Changed"), errors=(409,))
    def change(target_id: str) -> None: ...

    @made.route("/things/{target_id}", methods=["DELETE"], authorizer=auth)
    @openapi.Operation("Remove", answer=(204, None, "Removed"))
    def remove(target_id: str) -> None: ...

    paths = openapi.openapi_document(made.routes)["paths"]

    assert paths["/open"]["get"]["security"] == []
    assert "parameters" not in paths["/open"]["get"]
    assert list(paths["/open"]["get"]["responses"]) == ["200"]
    changed, removed = paths["/things/{target_id}"]["patch"], paths["/things/{target_id}"]["delete"]
    assert changed["security"] == removed["security"] == [{"bearer": []}]
    assert [(p["name"], p["in"]) for p in changed["parameters"]] == [("target_id", "path"), ("team", "query")]
    assert changed["parameters"][0]["schema"]["pattern"] == "^tg_[0-9a-f]{20}$"
    assert list(changed["responses"]) == ["200", "400", "401", "403", "404", "409", "413", "415", "429", "503"]
    assert list(removed["responses"]) == ["204", "400", "401", "403", "404", "429", "503"]
    assert "content" not in removed["responses"]["204"]
    assert changed["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/TargetChanges"
    }


def test_a_path_parameter_without_a_declared_id_pattern_is_refused() -> None:
    made, auth = small_app()

    @made.route("/things/{thing_id}", methods=["GET"], authorizer=auth)
    @openapi.Operation("A thing", answer=ANSWER)
    def thing(thing_id: str) -> None: ...

    with pytest.raises(TypeError, match=r"no id pattern is declared for \{thing_id\}"):
        openapi.openapi_document(made.routes)

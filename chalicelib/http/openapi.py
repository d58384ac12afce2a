"""The OpenAPI 3.1 document of the HTTP API (``GET /openapi.json``), generated.

The routes (paths, methods, status codes, summaries) are listed here; every request body, query
string and answer is the JSON Schema of a shape declared in ``chalicelib/presentation/shapes.py``,
the declaration the request parser and the renderers use too. A test compares the paths and
methods with the app's routes, and the API tests check every request and answer against this
document.
"""

from __future__ import annotations

from typing import Any

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


def _id(name: str, pattern: str) -> dict[str, Any]:
    """A path parameter holding an id certwatch made."""
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "string", "pattern": f"^{pattern}$"},
        "description": "Any other text is a 404 too",
    }


_TARGET_ID = _id("target_id", "tg_[0-9a-f]{20}")
_DOMAIN_ID = _id("domain_id", "dm_[0-9a-f]{16}")
_BEARER: list[dict[str, list[str]]] = [{"bearer": []}]
_CSV_EXAMPLE = "target,labels,warn_days\nexample.com,env=prod;tier=1,21\n"


class _Document:
    """Operations written against one set of components."""

    def __init__(self) -> None:
        self.components = Components()

    def answer(self, shape: type, description: str) -> dict[str, Any]:
        return {"description": description, "content": {"application/json": {"schema": self.components.ref(shape)}}}

    def errors(self, *statuses: int) -> dict[str, Any]:
        return {str(status): self.answer(shapes.Error, _ERRORS[status]) for status in statuses}

    def body(self, shape: type, *, required: bool = True) -> dict[str, Any]:
        return {"required": required, "content": {"application/json": {"schema": self.components.ref(shape)}}}

    def query(self, shape: type) -> list[dict[str, Any]]:
        """A query string shape as the operation's query parameters."""
        parameters = []
        for field in fields(shape).values():
            schema = self.components.of(field.spec)
            parameter = {"name": field.name, "in": "query", "required": field.required}
            if "description" in schema:
                parameter["description"] = schema.pop("description")
            if field.default is not ABSENT:
                schema["default"] = to_json(field.default)
            parameters.append({**parameter, "schema": schema})
        return parameters


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 description of every route."""
    doc = _Document()
    team = doc.query(shapes.TeamQuery)
    bulk_rows = doc.components.schema(shapes.BulkRows)
    paths: dict[str, dict[str, dict[str, Any]]] = {
        "/health": {
            "get": {
                "summary": "Liveness and version",
                "security": [],
                "responses": {"200": doc.answer(shapes.Health, "Up")},
            }
        },
        "/openapi.json": {
            "get": {
                "summary": "This document",
                "security": [],
                "responses": {
                    "200": {
                        "description": "OpenAPI 3.1",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    }
                },
            }
        },
        "/dashboard": {
            "get": {
                "summary": "The inventory page: one HTML document that asks for a token and reads this API with it",
                "security": [],
                "responses": {
                    "200": {
                        "description": "The page, with its style and script inline (the CSP admits those two)",
                        "content": {"text/html": {"schema": {"type": "string"}}},
                    }
                },
            }
        },
        "/targets": {
            "post": {
                "summary": "Register a target; its first check runs right after, without waiting",
                "parameters": team,
                "requestBody": doc.body(shapes.TargetInput),
                "responses": {"201": doc.answer(shapes.Target, "Registered")}
                | doc.errors(400, 401, 403, 409, 413, 415, 422, 429, 503),
            },
            "get": {
                "summary": "List the team's targets with their latest result",
                "parameters": doc.query(shapes.TargetQuery),
                "responses": {"200": doc.answer(shapes.TargetPage, "A page of targets")}
                | doc.errors(400, 401, 403, 429, 503),
            },
        },
        "/targets/bulk": {
            "post": {
                "summary": (
                    f"Register up to {shapes.MAX_BULK_ROWS} targets; one outcome per row "
                    "(send retry and not_processed again)"
                ),
                "parameters": team,
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"oneOf": [bulk_rows, doc.components.ref(shapes.BulkUpload)]}},
                        "text/csv": {"schema": {"type": "string"}, "example": _CSV_EXAMPLE},
                    },
                },
                "responses": {"200": doc.answer(shapes.BulkOutcomes, "One outcome per row")}
                | doc.errors(400, 401, 403, 413, 415, 429, 503),
            }
        },
        "/targets/{target_id}": {
            "get": {
                "summary": "A target and its latest full check result",
                "parameters": [_TARGET_ID, *team],
                "responses": {"200": doc.answer(shapes.TargetWithResult, "The target")}
                | doc.errors(400, 401, 403, 404, 429, 503),
            },
            "patch": {
                "summary": "Change labels, thresholds, interval, notes, owner, runbook or paused",
                "parameters": [_TARGET_ID, *team],
                "requestBody": doc.body(shapes.TargetChanges),
                "responses": {"200": doc.answer(shapes.Target, "Changed")}
                | doc.errors(400, 401, 403, 404, 413, 415, 429, 503),
            },
            "delete": {
                "summary": "Remove a target with its results and alert state",
                "parameters": [_TARGET_ID, *team],
                "responses": {"204": {"description": "Removed"}} | doc.errors(400, 401, 403, 404, 429, 503),
            },
        },
        "/targets/{target_id}/check": {
            "post": {
                "summary": "Check now; stores and returns the result",
                "parameters": [_TARGET_ID, *team],
                "responses": {"200": doc.answer(shapes.TargetWithResult, "Checked")}
                | doc.errors(400, 401, 403, 404, 415, 429, 503),
            }
        },
        "/settings": {
            "get": {
                "summary": "The team's settings (how its alerts are told)",
                "parameters": team,
                "responses": {"200": doc.answer(shapes.TeamSettings, "The team's settings")}
                | doc.errors(400, 401, 403, 429, 503),
            },
            "patch": {
                "summary": "Change the team's settings; the checkers use them within a minute",
                "parameters": team,
                "requestBody": doc.body(shapes.TeamSettingsChanges),
                "responses": {"200": doc.answer(shapes.TeamSettings, "Changed")}
                | doc.errors(400, 401, 403, 413, 415, 429, 503),
            },
        },
        "/silences": {
            "post": {
                "summary": "Silence a target, a certificate, a label or a finding for a while",
                "description": "Its events are recorded and shown (GET /events), never delivered; docs/alerts.md "
                "says what a silence can and cannot hide.",
                "parameters": team,
                "requestBody": doc.body(shapes.SilenceInput),
                "responses": {"201": doc.answer(shapes.Silence, "Silenced")}
                | doc.errors(400, 401, 403, 404, 413, 415, 429, 503),
            },
            "get": {
                "summary": "The team's silences (ended ones too)",
                "parameters": team,
                "responses": {"200": doc.answer(shapes.SilencePage, "The silences")}
                | doc.errors(400, 401, 403, 429, 503),
            },
        },
        "/silences/{silence_id}": {
            "delete": {
                "summary": "End a silence now",
                "parameters": [_id("silence_id", "si_[0-9a-f]{16}"), *team],
                "responses": {"200": doc.answer(shapes.Silence, "Ended")} | doc.errors(400, 401, 403, 404, 429, 503),
            }
        },
        "/maintenance": {
            "post": {
                "summary": "Plan a maintenance window: the team's events quieted for its period",
                "parameters": team,
                "requestBody": doc.body(shapes.MaintenanceInput),
                "responses": {"201": doc.answer(shapes.MaintenanceWindow, "Planned")}
                | doc.errors(400, 401, 403, 413, 415, 429, 503),
            },
            "get": {
                "summary": "The team's maintenance windows (past ones too)",
                "parameters": team,
                "responses": {"200": doc.answer(shapes.MaintenancePage, "The windows")}
                | doc.errors(400, 401, 403, 429, 503),
            },
        },
        "/maintenance/{window_id}": {
            "delete": {
                "summary": "End a maintenance window now",
                "parameters": [_id("window_id", "mw_[0-9a-f]{16}"), *team],
                "responses": {"200": doc.answer(shapes.MaintenanceWindow, "Ended")}
                | doc.errors(400, 401, 403, 404, 429, 503),
            }
        },
        "/domains": {
            "post": {
                "summary": "Watch a domain in Certificate Transparency, and its registration over RDAP",
                "description": "Its first sweep is due at once; docs/domains.md says what is fetched from where.",
                "parameters": team,
                "requestBody": doc.body(shapes.DomainInput),
                "responses": {"201": doc.answer(shapes.WatchedDomain, "Watched")}
                | doc.errors(400, 401, 403, 409, 413, 415, 429, 503),
            },
            "get": {
                "summary": "The team's watched domains, each with the names CT shows that no target checks",
                "parameters": team,
                "responses": {"200": doc.answer(shapes.DomainPage, "By name")} | doc.errors(400, 401, 403, 429, 503),
            },
        },
        "/domains/bulk": {
            "post": {
                "summary": f"Watch up to {shapes.MAX_BULK_ROWS} domains; one outcome per row (send retry again)",
                "parameters": team,
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": doc.components.schema(shapes.DomainRows)}},
                },
                "responses": {"200": doc.answer(shapes.DomainBulkOutcomes, "One outcome per row")}
                | doc.errors(400, 401, 403, 413, 415, 429, 503),
            }
        },
        "/domains/{domain_id}": {
            "get": {
                "summary": "One watched domain",
                "parameters": [_DOMAIN_ID, *team],
                "responses": {"200": doc.answer(shapes.WatchedDomain, "The domain")}
                | doc.errors(400, 401, 403, 404, 429, 503),
            },
            "delete": {
                "summary": "Stop watching a domain",
                "parameters": [_DOMAIN_ID, *team],
                "responses": {"204": {"description": "No longer watched"}} | doc.errors(400, 401, 403, 404, 429, 503),
            },
        },
        "/events": {
            "get": {
                "summary": "The team's recent events: delivered, waiting, or kept quiet by a silence or window",
                "parameters": doc.query(shapes.EventQuery),
                "responses": {"200": doc.answer(shapes.EventPage, "Newest first")}
                | doc.errors(400, 401, 403, 429, 503),
            }
        },
        "/certificates": {
            "get": {
                "summary": "Every certificate certwatch knows, one row each, sorted by expiry",
                "description": "Endpoint certificates of the team (by fingerprint), and certificates held in ACM "
                "and IAM (by ARN) for admin tokens and the team named by CERTWATCH_ACM_TEAM.",
                "parameters": doc.query(shapes.CertificateQuery),
                "responses": {"200": doc.answer(shapes.CertificatePage, "A page of certificates")}
                | doc.errors(400, 401, 403, 429, 503),
            }
        },
        "/metrics": {
            "get": {
                "summary": "The team's series for Prometheus (every team's for an admin token without ?team=)",
                "description": "From the stored results, never a check per scrape: blackbox_exporter's and "
                "ssl_exporter's series under their own names, and certwatch's (docs/metrics.md). OpenMetrics when "
                "the Accept header names application/openmetrics-text first (gzipped when Accept-Encoding allows), "
                "else the classic text format.",
                "parameters": team,
                "responses": {
                    "200": {
                        "description": "The series",
                        "content": {
                            "application/openmetrics-text": {"schema": {"type": "string"}},
                            "text/plain": {"schema": {"type": "string"}},
                        },
                    }
                }
                | doc.errors(400, 401, 403, 429, 503),
            }
        },
        "/cbom": {
            "get": {
                "summary": "The team's cryptography as a CycloneDX 1.6 CBOM (every team's for an admin token without "
                "?team=)",
                "description": "From the stored results, never a check: a cryptographic-asset component per "
                "certificate, algorithm, public key and TLS protocol an endpoint negotiated, each endpoint a service, "
                "with dependencies endpoint → protocol → certificate → algorithms; certificates held in ACM and IAM "
                "for admin tokens and the team named by CERTWATCH_ACM_TEAM (docs/cbom.md).",
                "parameters": team,
                "responses": {
                    "200": {
                        "description": "The CBOM (CycloneDX 1.6 JSON, https://cyclonedx.org/schema/bom-1.6.schema.json)",
                        "content": {
                            "application/vnd.cyclonedx+json": {
                                "schema": {
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
                            }
                        },
                    }
                }
                | doc.errors(400, 401, 403, 429, 503),
            }
        },
        "/discover": {
            "post": {
                "summary": "Find the public endpoints behind the account's certificates (admin tokens)",
                "description": "ELBv2 HTTPS/TLS listeners, CloudFront aliases, API Gateway custom domain names; "
                'with {"register": true} each is registered as a target (source discovery:...).',
                "parameters": team,
                "requestBody": doc.body(shapes.DiscoverRequest, required=False),
                "responses": {"200": doc.answer(shapes.Discovery, "What was found (and registered)")}
                | doc.errors(400, 401, 403, 413, 415, 429, 503),
            }
        },
    }
    for item in paths.values():
        for operation in item.values():
            operation.setdefault("security", _BEARER)
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

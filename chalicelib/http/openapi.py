"""The OpenAPI 3.1 document of the HTTP API (``GET /openapi.json``).

Written by hand (Chalice generates Swagger 2.0 only); a test compares its paths and methods
with the app's routes so the two cannot drift apart.
"""

from __future__ import annotations

from typing import Any

from chalicelib import __version__
from chalicelib.domain.inventory import Source
from chalicelib.domain.models import FindingCode, Protocol, Status
from chalicelib.domain.targets import BULK_OUTCOMES, DEFAULT_INTERVAL_MINUTES, MIN_INTERVAL_MINUTES
from chalicelib.domain.tokens import TEAM_NAME
from chalicelib.http.payloads import (
    DEFAULT_LIMIT,
    LABEL_KEY,
    MAX_BULK_ROWS,
    MAX_CA_BUNDLE,
    MAX_DAYS,
    MAX_INTERVAL_MINUTES,
    MAX_LABEL_VALUE,
    MAX_LABELS,
    MAX_LIMIT,
    MAX_NOTES,
)


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict[str, Any]:
    meaning = {
        400: "Malformed JSON, an invalid or unknown field or query parameter",
        401: "Missing, invalid or revoked token",
        403: "A team token named another team",
        404: "No such target for this team",
        409: "The team already registered this endpoint (error.existing_id names it)",
        413: "Request body over 1 MiB",
        415: "The body's Content-Type is not one the operation takes",
        422: "The target names or resolves to a forbidden (non-public) address",
        429: "Throttled; retry after the Retry-After header's seconds",
        503: "The data store is out of reach (unavailable) or certwatch is not configured (not_configured)",
    }
    return {str(s): _json(_ref("Error"), meaning[s]) for s in statuses}


_TEAM = {
    "name": "team",
    "in": "query",
    "required": False,
    "description": "Act on this team (admin tokens only; default: the token's own team)",
    "schema": {"type": "string", "pattern": f"^{TEAM_NAME}$"},
}
_ID = {
    "name": "target_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^tg_[0-9a-f]{20}$"},
    "description": "Any other text is a 404 too",
}
_LIMIT = {
    "name": "limit",
    "in": "query",
    "schema": {"type": "integer", "default": DEFAULT_LIMIT, "minimum": 1, "maximum": MAX_LIMIT},
}
_STATUS = {"name": "status", "in": "query", "schema": {"type": "string", "enum": [s.value for s in Status]}}
_EXPIRING = {
    "name": "expiring_within_days",
    "in": "query",
    "schema": {"type": "integer", "minimum": 0, "maximum": MAX_DAYS * 10},
}
_CURSOR = {
    "name": "cursor",
    "in": "query",
    "schema": {"type": "string"},
    "description": "From next_cursor (opaque: any other text is a 400 invalid_cursor)",
}
_AUTH: list[dict[str, list[str]]] = [{"bearer": []}]

_DAYS = {"type": ["integer", "null"], "minimum": 0, "maximum": MAX_DAYS}
_INTERVAL = {
    "type": ["integer", "null"],
    "minimum": MIN_INTERVAL_MINUTES,
    "maximum": MAX_INTERVAL_MINUTES,
    "default": DEFAULT_INTERVAL_MINUTES,
}
_LABELS = {
    "type": "object",
    "maxProperties": MAX_LABELS,
    "propertyNames": {"pattern": f"^{LABEL_KEY}$"},
    "additionalProperties": {"type": "string", "maxLength": MAX_LABEL_VALUE},
}
_ALERT_DAYS = {
    "type": ["array", "null"],
    "description": "The target's own alert thresholds in days (default: 30, 14, 7, 3, 1 up to warn_days)",
    "minItems": 1,
    "maxItems": 10,
    "items": {"type": "integer", "minimum": 1, "maximum": MAX_DAYS},
}
_SWITCH = {
    "type": ["boolean", "null"],
    "description": "Ask the CA: revocation (CRL, else OCSP) or ACME renewal information; false where the "
    "checker may not reach the CA's servers",
}
_TARGET_INPUT = {
    "type": "object",
    "description": "Either target, or host (with port and protocol); null for an optional field means its default. "
    "critical_days must not exceed warn_days (30 unless given).",
    "additionalProperties": False,
    "oneOf": [
        {
            "required": ["target"],
            "not": {"anyOf": [{"required": ["host"]}, {"required": ["port"]}, {"required": ["protocol"]}]},
        },
        {"required": ["host"], "not": {"required": ["target"]}},
    ],
    "properties": {
        "target": {
            "type": "string",
            "minLength": 1,
            "description": "Any target form `certwatch check` accepts: example.com, example.com:8443, "
            "https://example.com/path, [2001:db8::1]:443, smtp://mail.example.com, ...",
        },
        "host": {"type": "string", "minLength": 1, "description": "Instead of target: the host name or address"},
        "port": {
            "type": ["integer", "null"],
            "minimum": 1,
            "maximum": 65535,
            "description": "Default: the protocol's port",
        },
        "protocol": {"type": "string", "enum": sorted(p.value for p in Protocol), "default": "https"},
        "sni": {"type": ["string", "null"], "description": "Server name to send and to match the certificate against"},
        "labels": _LABELS,
        "warn_days": {**_DAYS, "default": 30},
        "critical_days": {**_DAYS, "default": 7},
        "check_interval_minutes": _INTERVAL,
        "ca_bundle": {
            "type": ["string", "null"],
            "maxLength": MAX_CA_BUNDLE,
            "description": "PEM trust anchors for an internal CA",
        },
        "notes": {"type": ["string", "null"], "maxLength": MAX_NOTES},
        "alert_days": _ALERT_DAYS,
        "revocation": {**_SWITCH, "default": True},
        "ari": {**_SWITCH, "default": True},
    },
}

_BULK_ROWS = {
    "type": "array",
    "minItems": 1,
    "maxItems": MAX_BULK_ROWS,
    "contains": {"not": {"type": "object", "maxProperties": 0}},
    "description": "TargetInput rows: a row that is not one is reported as rejected, and blocks no other row",
    "items": {},
}

_SUMMARY = {
    "type": ["object", "null"],
    "properties": {
        "status": {"type": "string", "enum": [s.value for s in Status]},
        "days_left": {"type": ["integer", "null"]},
        "not_after": {"type": ["string", "null"], "format": "date-time"},
        "codes": {"type": "array", "items": {"type": "string", "enum": [c.value for c in FindingCode]}},
        "checked_at": {"type": "string", "format": "date-time"},
    },
}

_TARGET = {
    "type": "object",
    "required": ["id", "team", "target", "host", "port", "protocol", "created_at", "latest"],
    "properties": {
        "id": {"type": "string"},
        "team": {"type": "string"},
        "target": {"type": "string", "description": "Canonical form, e.g. https://example.com:443"},
        "host": {"type": "string"},
        "port": {"type": "integer"},
        "protocol": {"type": "string"},
        "sni": {"type": ["string", "null"]},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "warn_days": {"type": "integer"},
        "critical_days": {"type": "integer"},
        "check_interval_minutes": {"type": "integer"},
        "ca_bundle": {"type": ["string", "null"]},
        "notes": {"type": ["string", "null"]},
        "alert_days": {"type": ["array", "null"], "items": {"type": "integer"}},
        "revocation": {"type": "boolean"},
        "ari": {"type": "boolean"},
        "paused": {"type": "boolean"},
        "source": {"type": "string"},
        "created_at": {"type": "string", "format": "date-time"},
        "updated_at": {"type": "string", "format": "date-time"},
        "next_check_at": {"type": "string", "format": "date-time"},
        "latest": _ref("ResultSummary"),
    },
}

_FINDING = {
    "type": "object",
    "required": ["code", "severity", "message"],
    "properties": {
        "code": {"type": "string", "enum": [c.value for c in FindingCode]},
        "severity": {"type": "string", "enum": ["info", "warning", "critical"]},
        "message": {"type": "string"},
        "reason": {
            "type": "string",
            "description": "For CONNECTION_FAILED: dns, refused, timeout, tls, protocol, forbidden",
        },
    },
}

_NEXT_STEP = {
    "type": ["object", "null"],
    "description": "The next cut of the CA/Browser Forum's maximum lifetime (null once the last is in force)",
    "properties": {
        "from": {"type": "string", "format": "date"},
        "max_days": {"type": "integer"},
        "ready": {"type": ["boolean", "null"]},
    },
}
_CADENCE = {
    "type": "object",
    "description": "How this endpoint's certificates are renewed, from its check history (registered targets). "
    "Ready for L days: each of the last three renewals happened by two thirds of L.",
    "properties": {
        "certificates_seen": {"type": "integer"},
        "renewals": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "at": {"type": "string", "format": "date-time"},
                    "days_since_previous_change": {"type": "integer"},
                    "age_days": {"type": "integer", "description": "How old the replaced certificate was"},
                    "days_left": {"type": "integer", "description": "Days the replaced certificate had left"},
                },
            },
        },
        "renewed_at_age_days": {"type": ["integer", "null"]},
        "least_days_left": {"type": ["integer", "null"]},
        "publicly_trusted": {"type": "boolean"},
        "ready_for_100_days": {"type": ["boolean", "null"]},
        "ready_for_47_days": {"type": ["boolean", "null"]},
        "next_step": _NEXT_STEP,
    },
}
_READINESS = {
    "type": ["object", "null"],
    "description": "The team's public endpoints by renewal cadence (null when no endpoint is in the view)",
    "properties": {
        "endpoints_with_cadence": {"type": "integer"},
        "endpoints_without_renewal_seen": {"type": "integer"},
        "ready_for_100_days": {"type": "integer"},
        "ready_for_47_days": {"type": "integer"},
        "next_step": _NEXT_STEP,
        "not_ready_for_next_step": {"type": "array", "items": {"type": "string"}},
    },
}

_CHECK_RESULT = {
    "type": ["object", "null"],
    "description": "The engine's full result: the same document `certwatch check --json` prints",
    "properties": {
        "target": {"type": "string"},
        "status": {"type": "string", "enum": [s.value for s in Status]},
        "days_left": {"type": ["integer", "null"]},
        "not_after": {"type": ["string", "null"], "format": "date-time"},
        "findings": {"type": "array", "items": _ref("Finding")},
        "results": {"type": "array", "items": {"type": "object", "description": "One per address checked"}},
        "checked_at": {"type": "string", "format": "date-time"},
        "cadence": _CADENCE,
    },
}

_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "field": {"type": "string"},
                "existing_id": {"type": "string"},
            },
        }
    },
}


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 description of every route."""
    target_with_result = {"allOf": [_ref("Target"), {"properties": {"result": _ref("CheckResult")}}]}
    paths: dict[str, dict[str, dict[str, Any]]] = {
        "/health": {
            "get": {
                "summary": "Liveness and version",
                "security": [],
                "responses": {"200": _json({"type": "object"}, "Up")},
            }
        },
        "/openapi.json": {
            "get": {
                "summary": "This document",
                "security": [],
                "responses": {"200": _json({"type": "object"}, "OpenAPI 3.1")},
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
                "parameters": [_TEAM],
                "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("TargetInput")}}},
                "responses": {"201": _json(_ref("Target"), "Registered")}
                | _errors(400, 401, 403, 409, 413, 415, 422, 429, 503),
            },
            "get": {
                "summary": "List the team's targets with their latest result",
                "parameters": [
                    _TEAM,
                    _LIMIT,
                    _CURSOR,
                    _STATUS,
                    {
                        "name": "label",
                        "in": "query",
                        "schema": {"type": "string", "pattern": f"^{LABEL_KEY}:"},
                        "description": "key:value",
                    },
                    _EXPIRING,
                ],
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {
                                "items": {"type": "array", "items": _ref("Target")},
                                "next_cursor": {"type": ["string", "null"]},
                            },
                        },
                        "A page of targets",
                    )
                }
                | _errors(400, 401, 403, 429, 503),
            },
        },
        "/targets/bulk": {
            "post": {
                "summary": (
                    f"Register up to {MAX_BULK_ROWS} targets; one outcome per row (send retry and not_processed again)"
                ),
                "parameters": [_TEAM],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "oneOf": [
                                    _BULK_ROWS,
                                    {
                                        "type": "object",
                                        "required": ["targets"],
                                        "additionalProperties": False,
                                        "properties": {"targets": _BULK_ROWS},
                                    },
                                ]
                            }
                        },
                        "text/csv": {
                            "schema": {"type": "string"},
                            "example": "target,labels,warn_days\nexample.com,env=prod;tier=1,21\n",
                        },
                    },
                },
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {
                                "results": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "properties": {
                                            "row": {"type": "integer"},
                                            "outcome": {"type": "string", "enum": list(BULK_OUTCOMES)},
                                            "target": _ref("Target"),
                                            "existing_id": {"type": "string"},
                                            "error": {"type": "object"},
                                        },
                                    },
                                },
                                **{kind: {"type": "integer"} for kind in BULK_OUTCOMES},
                            },
                        },
                        "One outcome per row",
                    )
                }
                | _errors(400, 401, 403, 413, 415, 429, 503),
            }
        },
        "/targets/{target_id}": {
            "get": {
                "summary": "A target and its latest full check result",
                "parameters": [_ID, _TEAM],
                "responses": {"200": _json(target_with_result, "The target")} | _errors(400, 401, 403, 404, 429, 503),
            },
            "patch": {
                "summary": "Change labels, thresholds, interval, notes or paused",
                "parameters": [_ID, _TEAM],
                "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("TargetChanges")}}},
                "responses": {"200": _json(_ref("Target"), "Changed")}
                | _errors(400, 401, 403, 404, 413, 415, 429, 503),
            },
            "delete": {
                "summary": "Remove a target with its results and alert state",
                "parameters": [_ID, _TEAM],
                "responses": {"204": {"description": "Removed"}} | _errors(400, 401, 403, 404, 429, 503),
            },
        },
        "/targets/{target_id}/check": {
            "post": {
                "summary": "Check now; stores and returns the result",
                "parameters": [_ID, _TEAM],
                "responses": {"200": _json(target_with_result, "Checked")} | _errors(400, 401, 403, 404, 415, 429, 503),
            }
        },
        "/certificates": {
            "get": {
                "summary": "Every certificate certwatch knows, one row each, sorted by expiry",
                "description": "Endpoint certificates of the team (by fingerprint), and certificates held in ACM "
                "and IAM (by ARN) for admin tokens and the team named by CERTWATCH_ACM_TEAM.",
                "parameters": [
                    _TEAM,
                    _LIMIT,
                    _CURSOR,
                    {"name": "source", "in": "query", "schema": {"type": "string", "enum": [s.value for s in Source]}},
                    {"name": "status", "in": "query", "schema": {"type": "string", "enum": [s.value for s in Status]}},
                    _EXPIRING,
                    {
                        "name": "issuer",
                        "in": "query",
                        "schema": {"type": "string"},
                        "description": "Text in the issuer",
                    },
                ],
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {
                                "items": {"type": "array", "items": _ref("InventoryRow")},
                                "next_cursor": {"type": ["string", "null"]},
                                "notes": {"type": "array", "items": {"type": "string"}},
                                "readiness": _READINESS,
                            },
                        },
                        "A page of certificates",
                    )
                }
                | _errors(400, 401, 403, 429, 503),
            }
        },
        "/discover": {
            "post": {
                "summary": "Find the public endpoints behind the account's certificates (admin tokens)",
                "description": "ELBv2 HTTPS/TLS listeners, CloudFront aliases, API Gateway custom domain names; "
                'with {"register": true} each is registered as a target (source discovery:...).',
                "parameters": [_TEAM],
                "requestBody": {
                    "required": False,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "additionalProperties": False,
                                "properties": {"register": {"type": "boolean", "default": False}},
                                "description": "No body at all proposes without registering",
                            }
                        }
                    },
                },
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {
                                "endpoints": {"type": "array", "items": {"type": "object"}},
                                "failures": {"type": "array", "items": {"type": "string"}},
                            },
                        },
                        "What was found (and registered)",
                    )
                }
                | _errors(400, 401, 403, 413, 415, 429, 503),
            }
        },
    }
    for item in paths.values():
        for operation in item.values():
            operation.setdefault("security", _AUTH)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "certwatch",
            "version": __version__,
            "description": "Register the TLS endpoints certwatch watches for your team. "
            "Authenticate with `Authorization: Bearer <token>` (see `certwatch token create`).",
        },
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "TargetInput": _TARGET_INPUT,
                "TargetChanges": {
                    "type": "object",
                    "description": "null leaves a field as it is, but clears notes. critical_days must not exceed "
                    "warn_days once the change is applied.",
                    "additionalProperties": False,
                    "minProperties": 1,
                    "properties": {
                        "labels": _LABELS,
                        "warn_days": _DAYS,
                        "critical_days": _DAYS,
                        "check_interval_minutes": _INTERVAL,
                        "notes": {"type": ["string", "null"], "maxLength": MAX_NOTES},
                        "paused": {"type": ["boolean", "null"]},
                        "alert_days": _ALERT_DAYS,
                        "revocation": _SWITCH,
                        "ari": _SWITCH,
                    },
                },
                "Target": _TARGET,
                "ResultSummary": _SUMMARY,
                "Finding": _FINDING,
                "CheckResult": _CHECK_RESULT,
                "Error": _ERROR,
                "InventoryRow": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string", "description": "SHA-256 fingerprint, or the ACM/IAM ARN"},
                        "source": {"type": "string", "enum": [s.value for s in Source]},
                        "subject": {"type": "string"},
                        "sans": {"type": "array", "items": {"type": "string"}},
                        "issuer": {"type": "string"},
                        "key": {"type": "string"},
                        "not_after": {"type": ["string", "null"], "format": "date-time"},
                        "days_left": {"type": ["integer", "null"]},
                        "status": {"type": "string", "enum": [s.value for s in Status]},
                        "codes": {"type": "array", "items": {"type": "string"}},
                        "used_by": {"type": "array", "items": {"type": "string"}},
                        "region": {"type": ["string", "null"]},
                        "team": {"type": ["string", "null"]},
                    },
                },
            },
        },
    }

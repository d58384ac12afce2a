"""``certwatch silence ...``, ``certwatch maintenance ...`` and ``certwatch events``: quieting a team's
alerts for a while, and seeing what was told and what was kept quiet.

The command line is read into the API's request body and parsed by the same code
(``http.payloads``), so a silence made here obeys exactly the rules of ``POST /silences``.
"""

from __future__ import annotations

import argparse
from typing import Any

from certwatch.admin import LOCAL_TEAM, OPERATOR, services
from chalicelib.domain.tokens import validate_team
from chalicelib.http import payloads
from chalicelib.presentation.reports import columns, iso


def silence_add(args: argparse.Namespace) -> int:
    services_ = services(args)
    body: dict[str, Any] = {"reason": args.reason, "until_certificate_changes": args.until_certificate_changes}
    for name in ("target", "certificate", "label", "finding", "days", "author"):
        if getattr(args, name) is not None:
            body[name] = getattr(args, name)
    if args.until is not None:
        body["ends_at"] = args.until
    request = payloads.silence_request(body, services_.clock())
    silence = services_.silencing.silence(OPERATOR, _team(args), request)
    until = " (or until its certificate is replaced)" if silence.until_certificate_changes else ""
    print(f"{silence.id}: {silence.match.value} {silence.value} silenced until {iso(silence.ends_at)}{until}")
    return 0


def silence_list(args: argparse.Namespace) -> int:
    services_ = services(args)
    now = services_.clock()
    rows = [("ID", "QUIETS", "UNTIL", "ACTIVE", "AUTHOR", "REASON")]
    for s in services_.silencing.silences(_team(args)):
        until = iso(s.ended_at if s.ended_at is not None else s.ends_at) or ""
        rows.append((s.id, f"{s.match.value} {s.value}", until, "yes" if s.active(now) else "no", s.author, s.reason))
    print(columns(rows))
    return 0


def silence_end(args: argparse.Namespace) -> int:
    ended = services(args).silencing.end_silence(_team(args), args.silence_id)
    print(f"ended {ended.id}: its events are delivered again")
    return 0


def maintenance_add(args: argparse.Namespace) -> int:
    services_ = services(args)
    body: dict[str, Any] = {"ends_at": args.end, "reason": args.reason}
    if args.start is not None:
        body["starts_at"] = args.start
    if args.label:
        body["labels"] = dict(_pair(label) for label in args.label)
    if args.author is not None:
        body["author"] = args.author
    window = services_.silencing.window(OPERATOR, _team(args), payloads.window_request(body, services_.clock()))
    which = ", ".join(f"{k}={v}" for k, v in sorted(window.labels.items())) or "every target"
    print(f"{window.id}: {which} quiet from {iso(window.starts_at)} to {iso(window.ends_at)}")
    return 0


def maintenance_list(args: argparse.Namespace) -> int:
    services_ = services(args)
    now = services_.clock()
    rows = [("ID", "FROM", "TO", "LABELS", "ACTIVE", "REASON")]
    for w in services_.silencing.windows(_team(args)):
        labels = ",".join(f"{k}={v}" for k, v in sorted(w.labels.items())) or "every target"
        to = iso(w.ended_at if w.ended_at is not None else w.ends_at) or ""
        rows.append((w.id, iso(w.starts_at) or "", to, labels, "yes" if w.active(now) else "no", w.reason))
    print(columns(rows))
    return 0


def maintenance_end(args: argparse.Namespace) -> int:
    ended = services(args).silencing.end_window(_team(args), args.window_id)
    print(f"ended {ended.id}")
    return 0


def events_list(args: argparse.Namespace) -> int:
    rows = [("AT", "EVENT", "SEVERITY", "STATE", "SUMMARY", "TARGET")]
    for r in services(args).silencing.events(_team(args), limit=args.limit):
        note = r.notification
        state = f"silenced by {note.silenced_by}" if note.silenced_by else r.state
        rows.append(
            (
                iso(note.created_at) or "",
                note.event.type.value,
                note.event.severity.value,
                state,
                note.event.summary,
                note.target_id,
            )
        )
    print(columns(rows))
    return 0


def _team(args: argparse.Namespace) -> str:
    return validate_team(args.team) if args.team else LOCAL_TEAM if args.local else OPERATOR.team


def _pair(text: str) -> tuple[str, str]:
    key, found, value = text.partition("=")
    if not found:
        raise argparse.ArgumentTypeError(f"--label takes KEY=VALUE, not {text!r}")
    return key, value

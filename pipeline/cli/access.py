"""``dangan`` access commands: users (账户), the audit log (审计日志), the 查档登记 (access register).

Registered on the main app by :mod:`pipeline.cli`. Whoever runs a command is recorded under
their login name; reading the audit log and exporting the register are themselves audited
(PIPL §51, BRIEF §9).
"""

from __future__ import annotations

import getpass
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any, Optional

import typer
from rich.table import Table

from pipeline.cli.common import console, current_user, err, fail, load_cli_settings

user_app = typer.Typer(no_args_is_help=True, help="Accounts for the web UI: add, list, passwd, disable.")
audit_app = typer.Typer(no_args_is_help=True, help="The hash-chained audit log: verify, list.")
register_app = typer.Typer(no_args_is_help=True, help="查档登记 (access register): list, export.")

PASSWORD_STDIN = typer.Option(False, "--password-stdin", help="Read the password from the first line of stdin.")


def _access():
    from pipeline.access import Access
    from pipeline.store import Database

    s = load_cli_settings()
    return Access.open(Database(s.db_url), s.home)


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        err.print("[red]passwords differ[/red]")
        raise typer.Exit(1)
    return first


def _run(action) -> Any:
    from pipeline.access import AccessError

    try:
        return action()
    except AccessError as exc:
        fail(exc)


def _when(moment: datetime | None) -> str:
    if moment is None:
        return ""
    from pipeline.store.models import as_utc  # loaded with the catalog, not at CLI start-up

    return as_utc(moment).astimezone().isoformat(timespec="seconds")


def _dump(rows: list[dict]) -> None:
    sys.stdout.write(json.dumps(rows, ensure_ascii=False) + "\n")


# ── users ───────────────────────────────────────────────────────


@user_app.command("add")
def user_add(
    username: str = typer.Argument(...),
    role: list[str] = typer.Option(..., "--role", help="operator | clerk | reviewer | admin (repeatable)."),
    display_name: Optional[str] = typer.Option(None, "--display-name"),
    password_stdin: bool = PASSWORD_STDIN,
) -> None:
    """Add an account (password at least 10 characters)."""
    access = _access()
    password = _password(password_stdin)
    _run(lambda: access.users.create(username, password, role, by=current_user(), display_name=display_name))
    console.print(f"user {username} added ({' '.join(role)})")


@user_app.command("list")
def user_list(as_json: bool = typer.Option(False, "--json")) -> None:
    """Accounts, their roles and sign-in state."""
    users = _access().users.list()
    rows = [{"username": u.username, "display_name": u.display_name, "roles": u.roles.split(), "active": u.active,
             "last_login_at": _when(u.last_login_at) or None, "locked_until": _when(u.locked_until) or None}
            for u in users]
    if as_json:
        _dump(rows)
        return
    table = Table(title=f"{len(rows)} user(s)")
    for col in ("username", "name", "roles", "active", "last sign-in", "locked until"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["username"], r["display_name"] or "", " ".join(r["roles"]), "yes" if r["active"] else "no",
                      r["last_login_at"] or "", r["locked_until"] or "")
    console.print(table)


@user_app.command("passwd")
def user_passwd(username: str = typer.Argument(...), password_stdin: bool = PASSWORD_STDIN) -> None:
    """Set a new password (also lifts a lockout)."""
    access = _access()
    password = _password(password_stdin)
    _run(lambda: access.users.set_password(username, password, by=current_user()))
    console.print(f"password of {username} changed")


@user_app.command("disable")
def user_disable(username: str = typer.Argument(...)) -> None:
    """Disable an account; it is kept, since the audit log and the register name it."""
    _run(lambda: _access().users.deactivate(username, by=current_user()))
    console.print(f"user {username} disabled")


# ── audit log ───────────────────────────────────────────────────


@audit_app.command("verify")
def audit_verify() -> None:
    """Recompute the hash chain; exit 1 and list the problems when anything was changed or removed."""
    log = _access().audit
    problems = log.verify()
    for p in problems:
        err.print(f"[red]{p}[/red]")
    if problems:
        raise typer.Exit(1)
    last, digest = log.head()
    console.print(f"audit log intact: {last} entr{'y' if last == 1 else 'ies'}, head {digest}", soft_wrap=True)


@audit_app.command("list")
def audit_list(
    limit: int = typer.Option(50, "--limit"),
    number: Optional[str] = typer.Option(None, "--number", help="Only searches for this ID or phone number "
                                         "(the log keeps it masked; found by its HMAC)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """The newest entries (this reading is itself logged)."""
    from pipeline.text import mask_query

    log = _access().audit
    entries = log.list(limit=limit, number=number)
    detail: dict[str, Any] = {"what": "audit-log", "limit": limit}
    if number:
        detail["number"] = mask_query(number)
    log.append(current_user(), "view", query=number, detail=detail)
    rows = [{"id": e.id, "occurred_at": _when(e.occurred_at), "user": e.user, "action": e.action, "query": e.query,
             "items": e.items, "detail": e.detail, "entry_hash": e.entry_hash} for e in entries]
    if as_json:
        _dump(rows)
        return
    table = Table(title=f"audit log: newest {len(rows)}")
    for col in ("#", "time", "user", "action", "query", "items", "detail"):
        table.add_column(col)
    for r in rows:
        details = json.dumps(r["detail"], ensure_ascii=False) if r["detail"] else ""
        table.add_row(str(r["id"]), r["occurred_at"], r["user"], r["action"], r["query"] or "",
                      "、".join(map(str, r["items"])), details)
    console.print(table)


# ── access register ─────────────────────────────────────────────


def _register_rows(entries) -> list[dict]:
    return [{"register_number": e.register_number, "created_at": _when(e.created_at), "clerk": e.clerk,
             "requester_name": e.requester_name, "id_type": e.id_type, "id_number_masked": e.id_number_masked,
             "phone_masked": e.phone_masked, "relation": e.relation, "proof": e.proof, "purpose": e.purpose,
             "query": e.query, "items": e.items, "use": e.use, "pages_copied": e.pages_copied, "result": e.result,
             "approved_by": e.approved_by, "remarks": e.remarks} for e in entries]


@register_app.command("list")
def register_list(
    query: Optional[str] = typer.Option(None, "--query", "-q", help="Words in name, purpose, 登记号, result, remarks."),
    limit: int = typer.Option(200, "--limit"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Register entries, newest first (ID and phone numbers masked; this lookup is logged)."""
    entries = _access().register.find(by=current_user(), query=query, limit=limit)
    rows = _register_rows(entries)
    if as_json:
        _dump(rows)
        return
    table = Table(title=f"查档登记: {len(rows)} entr{'y' if len(rows) == 1 else 'ies'}")
    for col in ("登记号", "时间", "查档人", "证件", "关系", "目的", "利用方式", "档号", "接待人"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["register_number"], r["created_at"][:16], r["requester_name"], r["id_number_masked"],
                      r["relation"], r["purpose"], r["use"], "、".join(map(str, r["items"])), r["clerk"])
    console.print(table)


@register_app.command("export")
def register_export(
    out: Path = typer.Argument(..., help="The .xlsx file to write."),
    query: Optional[str] = typer.Option(None, "--query", "-q"),
) -> None:
    """Write the register (or the entries matching --query) to XLSX with Chinese headers."""
    register = _access().register
    entries = register.find(by=current_user(), query=query, limit=1_000_000)
    register.export_xlsx(out, list(reversed(entries)), by=current_user())  # oldest first, as in a paper register
    console.print(f"{len(entries)} entr{'y' if len(entries) == 1 else 'ies'} → {out}")

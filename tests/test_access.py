"""Access control: argon2 passwords and lockout, roles, the hash-chained audit log, 查档登记."""

from __future__ import annotations

import sqlite3
import subprocess
from datetime import datetime, timedelta, timezone
from itertools import pairwise
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from conftest import dangan_env, run_cli, run_processes

from pipeline.text import id_check_digit
from pipeline.store import AccessRegisterEntry, AuditEntry, Database, User
from pipeline.access import (
    XLSX_HEADERS,
    Access,
    AccessError,
    AuditLog,
    UserStore,
    can,
    hash_password,
    permissions_of,
    verify_password,
)
from pipeline.store.models import Base

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=timezone.utc)
PASSWORD = "correct horse 1"


def _url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'c.sqlite3'}"


def _id_number(check: str, prefix: str = "33010219800101") -> str:
    """A valid 18-digit ID whose check character is ``check``."""
    for seq in range(1000):
        first17 = f"{prefix}{seq:03d}"
        if id_check_digit(first17) == check:
            return first17 + check
    raise AssertionError(check)


def _entries(db: Database) -> list[AuditEntry]:
    with db.session() as s:
        return list(s.scalars(sa.select(AuditEntry).order_by(AuditEntry.id)))


# ── passwords, accounts, lockout, roles ───────────────────────────


def test_argon2id_hash_format_and_verify():
    h = hash_password(PASSWORD)
    assert h.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert hash_password(PASSWORD) != h  # salted
    assert verify_password(h, PASSWORD)
    assert not verify_password(h, PASSWORD + "x")
    assert not verify_password("not a hash", PASSWORD)


def test_accounts_are_validated(tmp_path):
    users = UserStore(Database(_url(tmp_path)))
    users.create("wangfang", PASSWORD, ["clerk"], by="admin", display_name="王芳")
    for args, message in ((("Wang Fang", PASSWORD, ["clerk"]), "username"),
                          (("li", PASSWORD, ["janitor"]), "roles"),
                          (("li", PASSWORD, []), "roles"),
                          (("li", "short", ["clerk"]), "too short"),
                          (("wangfang", PASSWORD, ["clerk"]), "exists")):
        with pytest.raises(AccessError, match=message):
            users.create(*args, by="admin")
    assert [u.username for u in users.list()] == ["wangfang"]
    users.set_roles("wangfang", ["reviewer", "clerk"], by="admin")
    assert users.get("wangfang").roles == "clerk reviewer"
    with pytest.raises(AccessError, match="no user"):
        users.set_password("nobody", PASSWORD, by="admin")


def test_unknown_user_wrong_password_locked_and_disabled_all_fail_alike(tmp_path):
    db = Database(_url(tmp_path))
    users = UserStore(db)
    users.create("clerk1", PASSWORD, ["clerk"], by="admin")
    users.create("gone", PASSWORD, ["clerk"], by="admin")
    users.deactivate("gone", by="admin")
    assert users.authenticate("clerk1", PASSWORD, now=T0).username == "clerk1"
    assert users.authenticate("clerk1", "wrong password", now=T0) is None
    assert users.authenticate("nobody", PASSWORD, now=T0) is None
    assert users.authenticate("gone", PASSWORD, now=T0) is None
    failed = AuditLog(db).list(action="login-failed")
    assert [(e.user, e.detail["reason"]) for e in reversed(failed)] == [
        ("clerk1", "wrong password"), ("nobody", "unknown user"), ("gone", "disabled")]
    assert users.get("clerk1").last_login_at is not None


def test_five_failures_lock_for_fifteen_minutes_across_restarts(tmp_path):
    users = UserStore(Database(_url(tmp_path)))
    users.create("clerk1", PASSWORD, ["clerk"], by="admin")
    for k in range(5):
        assert users.authenticate("clerk1", f"wrong {k}", now=T0 + timedelta(seconds=k)) is None
    # A new process (a restarted web server) sees the same lock: it is in the catalog.
    users = UserStore(Database(_url(tmp_path)))
    assert users.get("clerk1").locked_until is not None
    assert users.authenticate("clerk1", PASSWORD, now=T0 + timedelta(minutes=14)) is None
    assert users.authenticate("clerk1", PASSWORD, now=T0 + timedelta(minutes=15, seconds=5)) is not None
    reasons = [e.detail["reason"] for e in reversed(AuditLog(users.db).list(action="login-failed"))]
    assert reasons == ["wrong password"] * 4 + ["wrong password; locked for 15 minutes", "locked"]
    # Four failures, then success: the count starts again.
    for k in range(4):
        users.authenticate("clerk1", "wrong", now=T0 + timedelta(minutes=20))
    assert users.authenticate("clerk1", PASSWORD, now=T0 + timedelta(minutes=20)) is not None
    assert users.get("clerk1").failed_logins == 0


def test_roles_grant_least_privilege():
    def user(roles: str, active: bool = True) -> User:
        return User(username="u", roles=roles, active=active, password_hash="")

    clerk = user("clerk")
    assert {p for p in ("search", "view", "print", "register") if can(clerk, p)} == {"search", "view", "print",
                                                                                    "register"}
    assert not can(clerk, "users") and not can(clerk, "config") and not can(clerk, "ingest")
    assert permissions_of(user("operator")) == {"ingest", "status"}
    assert permissions_of(user("reviewer")) == {"review"}
    assert can(user("admin"), "users") and can(user("admin"), "register") and can(user("admin"), "ingest")
    assert permissions_of(user("clerk reviewer")) == {"search", "view", "print", "register", "review"}
    assert permissions_of(user("admin", active=False)) == frozenset()
    with pytest.raises(ValueError, match="unknown permission"):
        can(clerk, "user")


# ── audit log ────────────────────────────────────────────────────


def _append_many(url: str, who: str, n: int) -> None:
    log = AuditLog(Database(url, upgrade=False))
    for k in range(n):
        log.append(who, "search", query=f"王秀英 {k}", items=[k, f"Z109-WS·2011-Y-BGS-{k:04d}"],
                   detail={"hits": k, "filters": {"village": "石门村"}})


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_audit_chain_holds_under_concurrent_appends(tmp_path, backend, request):
    url = request.getfixturevalue("postgres_url") if backend == "postgresql" else _url(tmp_path)
    db = Database(url)
    with db.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    run_processes(_append_many, [(url, "clerk1", 25), (url, "clerk2", 25)])
    log = AuditLog(db)
    assert log.verify() == []
    entries = _entries(db)
    assert [e.id for e in entries] == list(range(1, 51))
    assert all(b.prev_hash == a.entry_hash for a, b in pairwise(entries))
    assert {e.user for e in entries} == {"clerk1", "clerk2"}
    assert log.head() == (50, entries[-1].entry_hash)
    # The database itself refuses edits and deletions.
    for statement in ("UPDATE audit_log SET query = 'x'", "DELETE FROM audit_log WHERE id = 50"):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), db.session() as s:
            s.execute(sa.text(statement))
    if backend == "postgresql":  # a superuser can switch the trigger off; the chain still tells
        with db.engine.begin() as conn:
            conn.execute(sa.text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
            conn.execute(sa.text("UPDATE audit_log SET query = '李四' WHERE id = 17"))
            conn.execute(sa.text("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only"))
        assert log.verify() == ["entry 17: content changed (hash mismatch)"]
    db.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_migration_0004_downgrades_and_upgrades_again(tmp_path, backend, request):
    from alembic import command
    from alembic.config import Config

    from pipeline.store.db import MIGRATIONS

    url = request.getfixturevalue("postgres_url") if backend == "postgresql" else _url(tmp_path)
    db = Database(url)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with db.engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0003")
        assert not {"users", "audit_log", "access_register"} & set(sa.inspect(conn).get_table_names())
        command.upgrade(cfg, "head")  # the PostgreSQL trigger function went with it, or this would fail
        conn.commit()
    AuditLog(db).append("admin", "admin", detail={"op": "test"})
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), db.session() as s:
        s.execute(sa.text("DELETE FROM audit_log"))
    db.dispose()


def _tamper(db_file: Path, *statements: str) -> None:
    """What someone with the SQLite file can do: drop the triggers, change rows, put them back."""
    conn = sqlite3.connect(db_file)
    triggers = conn.execute("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_log'").fetchall()
    assert len(triggers) == 2
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("UPDATE audit_log SET query = 'x' WHERE id = 1")
    conn.execute("DROP TRIGGER audit_log_no_update")
    conn.execute("DROP TRIGGER audit_log_no_delete")
    for statement in statements:
        conn.execute(statement)
    for (sql,) in triggers:
        conn.execute(sql)
    conn.commit()
    conn.close()


@pytest.fixture
def logged(tmp_path) -> tuple[Database, AuditLog, Path]:
    db = Database(_url(tmp_path))
    _append_many(_url(tmp_path), "clerk1", 20)
    return db, AuditLog(db), tmp_path / "c.sqlite3"


def test_audit_verify_detects_an_edited_entry(logged):
    _, log, path = logged
    _tamper(path, "UPDATE audit_log SET query = '李四', detail = '{\"hits\": 0}' WHERE id = 7")
    assert log.verify() == ["entry 7: content changed (hash mismatch)"]


def test_audit_verify_detects_a_rehashed_entry_as_a_broken_link(logged):
    from pipeline.access import entry_hash

    db, log, path = logged
    e = _entries(db)[6]
    forged = entry_hash(e.id, e.occurred_at, e.user, e.action, "李四", e.items, e.detail, e.prev_hash)
    _tamper(path, f"UPDATE audit_log SET query = '李四', entry_hash = '{forged}' WHERE id = 7")
    assert log.verify() == ["entry 8: chain broken (prev_hash does not match entry 7)"]


def test_audit_verify_detects_deleted_entries(logged):
    _, log, path = logged
    _tamper(path, "DELETE FROM audit_log WHERE id IN (5, 6)", "DELETE FROM audit_log WHERE id = 20")
    assert log.verify() == ["entries 5–6: missing (deleted)",
                            "entry 7: chain broken (prev_hash does not match entry 4)",
                            "entry 20: missing (deleted) at the end"]


def test_audit_entry_commits_or_vanishes_with_what_it_logs(tmp_path):
    db = Database(_url(tmp_path))
    users = UserStore(db)
    with pytest.raises(AccessError):
        users.create("x1", "short", ["clerk"], by="admin")
    users.create("x1", PASSWORD, ["clerk"], by="admin")
    assert [(e.id, e.action, e.detail["op"]) for e in _entries(db)] == [(1, "admin", "user-add")]
    assert AuditLog(db).verify() == []


# ── 查档登记 ─────────────────────────────────────────────────────


def _visit(register, id_number: str, name: str = "王秀英", **kw):
    args = {"clerk": "clerk1", "requester_name": name, "id_type": "居民身份证", "id_number": id_number,
            "relation": "本人", "proof": ["身份证"], "purpose": "建房审批", "use": "阅览",
            "items": ["Z109-WS·2006-Y-BGS-0012"], "query": "王秀英", "phone": "138 1234 5678", "now": T0}
    return register.record(**{**args, **kw})


def _record_visits(url: str, home: str, n: int) -> None:
    register = Access.open(Database(url, upgrade=False), Path(home)).register
    for k in range(n):
        _visit(register, _id_number("X"), name=f"访客{k}")


def test_register_masks_the_id_and_finds_visits_by_hmac(tmp_path):
    db = Database(_url(tmp_path))
    access = Access.open(db, tmp_path / "data")
    id_x = _id_number("X")
    first = _visit(access.register, id_x)
    second = _visit(access.register, id_x[:-1] + "x", relation="直系亲属", proof=["户口簿", "信用承诺书"],
                    use="复制", pages_copied=3, now=T0 + timedelta(days=30))
    other = _visit(access.register, _id_number("7"), name="李四")
    assert first.id_number_masked == "3301**********" + id_x[-4:]
    assert first.phone_masked == "138****5678"
    assert (first.register_number, second.register_number, other.register_number) == (
        "2026-000001", "2026-000002", "2026-000003")
    found = access.register.find(by="clerk1", id_number=" " + id_x.lower())
    assert [e.register_number for e in found] == ["2026-000002", "2026-000001"]
    assert [e.register_number for e in access.register.find(by="clerk1", query="李")] == ["2026-000003"]
    later = access.register.find(by="clerk1", date_from=(T0 + timedelta(days=20)).date())
    assert [e.register_number for e in later] == ["2026-000002"]
    key = tmp_path / "data" / "access" / "register.key"
    assert key.stat().st_mode & 0o777 == 0o600
    # The full number is in no column of any table (the lookup's audit entry holds it masked).
    digits = id_x[:-1]
    with db.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            for row in conn.execute(table.select()):
                assert digits not in repr(tuple(row)), f"full ID number stored in {table.name}"
    searches = AuditLog(db).list(action="search")
    assert searches[-1].detail["id_number"] == first.id_number_masked
    registered = AuditLog(db).list(action="register")
    assert registered[-1].detail["register_number"] == "2026-000001"


def test_register_validates_against_the_allowed_lists(tmp_path):
    register = Access.open(Database(_url(tmp_path)), tmp_path).register
    good = _id_number("5")
    for kw, message in (({"relation": "朋友"}, "relation"), ({"proof": ["工作证"]}, "proof"), ({"proof": []}, "proof"),
                        ({"id_type": "驾驶证"}, "id_type"), ({"use": "借出"}, "use"),
                        ({"id_number": good[:-1] + "6"}, "check digit"),
                        ({"purpose": " "}, "purpose")):
        with pytest.raises(AccessError, match=message):
            _visit(register, **{"id_number": good, **kw})
    entry = _visit(register, "E12345678", id_type="护照")
    assert entry.id_number_masked == "E123*5678"
    assert entry.register_number == "2026-000001"  # refused entries used no number


def test_register_numbers_are_gap_free_under_concurrency(tmp_path):
    url = _url(tmp_path)
    Database(url).dispose()
    run_processes(_record_visits, [(url, str(tmp_path / "data"), 6), (url, str(tmp_path / "data"), 6)])
    db = Database(url)
    with db.session() as s:
        numbers = sorted(s.scalars(sa.select(AccessRegisterEntry.register_number)))
        hmacs = set(s.scalars(sa.select(AccessRegisterEntry.id_number_hmac)))
    assert numbers == [f"2026-{k:06d}" for k in range(1, 13)]
    assert len(hmacs) == 1, "both processes used the same installation key"
    register = Access.open(db, tmp_path / "data").register
    assert _visit(register, _id_number("1"), now=datetime(2027, 1, 2, tzinfo=timezone.utc)).register_number \
        == "2027-000001"
    assert AuditLog(db).verify() == []


def test_register_complete_and_xlsx_export(tmp_path):
    from openpyxl import load_workbook

    db = Database(_url(tmp_path))
    register = Access.open(db, tmp_path).register
    _visit(register, _id_number("X"), name="=HYPERLINK(\"http://x\")")
    register.complete("2026-000001", by="clerk1", items=["Z109-WS·2006-Y-BGS-0013"], result="已找到, 出具证明",
                      pages_copied=2)
    out = tmp_path / "register.xlsx"
    register.export_xlsx(out, register.find(by="clerk1"), by="clerk1")
    ws = load_workbook(out).active
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0] == XLSX_HEADERS and rows[0][:4] == ("登记号", "查档时间", "接待人", "查档人")
    row = dict(zip(rows[0], rows[1]))
    assert row["登记号"] == "2026-000001" and row["证件号码"].startswith("3301**")
    assert row["查档人"] == "=HYPERLINK(\"http://x\")" and ws["D2"].data_type == "s"  # text, not a formula
    assert row["查阅档号"] == "Z109-WS·2006-Y-BGS-0012、Z109-WS·2006-Y-BGS-0013"
    assert (row["复制页数"], row["利用效果"]) == (2, "已找到, 出具证明")
    export = AuditLog(db).list(action="export")[0]
    assert export.items == ["2026-000001"] and export.detail["entries"] == 1
    assert AuditLog(db).verify() == []


# ── CLI ─────────────────────────────────────────────────────────


def test_cli_user_add_then_audit_verify(home):
    env = dangan_env(home)

    def cli(args: list[str], stdin: str) -> subprocess.CompletedProcess:
        return run_cli(args, env, input=stdin)

    r = cli(["user", "add", "wangfang", "--role", "clerk", "--role", "reviewer", "--display-name", "王芳",
             "--password-stdin"], PASSWORD + "\n")
    assert r.returncode == 0, r.stderr
    assert cli(["user", "add", "li", "--role", "clerk", "--password-stdin"], "short\n").returncode == 1
    r = run_cli(["audit", "verify"], env)
    assert r.returncode == 0 and "1 entry" in r.stdout, r.stderr
    db_file = home / "data" / "catalog.sqlite3"
    users = UserStore(Database(f"sqlite:///{db_file}"))
    assert users.authenticate("wangfang", PASSWORD).roles == "clerk reviewer"
    r = run_cli(["register", "export", str(home / "r.xlsx")], env)
    assert r.returncode == 0 and (home / "r.xlsx").exists(), r.stderr
    _tamper(db_file, "UPDATE audit_log SET user_name = 'mallory' WHERE id = 1")
    r = run_cli(["audit", "verify"], env)
    assert r.returncode == 1 and "entry 1: content changed (hash mismatch)" in r.stderr

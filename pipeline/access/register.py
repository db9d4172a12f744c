"""查档登记 (access register): who consulted which file, why, with what proof (see :mod:`pipeline.access`)."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import tempfile
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy import or_, select

from pipeline.store.catalog import next_number
from pipeline.store.db import Database
from pipeline.store.models import AccessRegisterEntry
from pipeline.text import is_valid_id_number, mask, normalise_id_number

from .audit import AuditLog, audit, date_range
from .common import AccessError, utc

# ── 查档登记 (access register) ───────────────────────────────────────

ID_TYPES = ("居民身份证", "户口簿", "护照", "其他")
RELATIONS = ("本人", "直系亲属", "代理", "单位")  # 与档案当事人关系
PROOFS = ("身份证", "户口簿", "关系证明", "信用承诺书", "委托书", "介绍信")  # 信用承诺书: Yiwu practice
USES = ("阅览", "复制", "摘录", "出具证明")  # 实施条例 §33
XLSX_HEADERS = ("登记号", "查档时间", "接待人", "查档人", "证件类型", "证件号码", "联系电话", "与当事人关系",
                "证明材料", "查档目的", "检索词", "查阅档号", "利用方式", "复制页数", "利用效果", "审批人", "备注")
KEY_FILE = Path("access") / "register.key"  # under the data home


def _check_id_number(id_type: str, number: str) -> None:
    # 户口簿 carries the same 公民身份号码, so both are checked against GB 11643.
    if id_type in ("居民身份证", "户口簿"):
        if not is_valid_id_number(number):  # a legacy 15-digit number has no check digit
            raise AccessError("居民身份证号码 invalid: 18 characters with a valid check digit (GB 11643)")
    elif len(number) < 5:
        raise AccessError("ID number too short")


def load_key(path: Path) -> bytes:
    """The installation's HMAC key, made on first use (mode 0600, readable by nobody else)."""
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent)  # mkstemp files are 0600
        try:
            os.write(fd, secrets.token_hex(32).encode())
            os.fsync(fd)
            os.close(fd)
            try:
                os.link(tmp, path)  # atomic and refusing to replace: two first users agree on one key
            except FileExistsError:
                pass
        finally:
            os.unlink(tmp)
    if path.stat().st_mode & 0o077:
        raise AccessError(f"{path} is readable by others: chmod 600 it")
    return bytes.fromhex(path.read_text().strip())


class AccessRegister:
    """查档登记: who looked at what, why, with which proof (档案法 §28, BRIEF §9)."""

    def __init__(self, db: Database, key_path: Path) -> None:
        self.db = db
        self.key_path = key_path
        self._key: bytes | None = None

    def id_hmac(self, id_number: str) -> str:
        if self._key is None:
            self._key = load_key(self.key_path)
        return hmac.new(self._key, normalise_id_number(id_number).encode(), hashlib.sha256).hexdigest()

    def record(self, *, clerk: str, requester_name: str, id_type: str, id_number: str, relation: str,
               proof: Sequence[str], purpose: str, use: str, items: Iterable = (), query: str | None = None,
               phone: str | None = None, result: str | None = None, pages_copied: int = 0,
               approved_by: str | None = None, remarks: str | None = None,
               now: datetime | None = None) -> AccessRegisterEntry:
        """Register a visit; its 登记号 (``2026-000123``) is gap-free per local calendar year."""
        number = normalise_id_number(id_number)
        _one_of("id_type", id_type, ID_TYPES)
        _one_of("relation", relation, RELATIONS)
        _one_of("use", use, USES)
        if not proof or not set(proof) <= set(PROOFS):
            raise AccessError(f"proof must be one or more of {', '.join(PROOFS)}")
        if not requester_name.strip() or not purpose.strip():
            raise AccessError("requester name and purpose are required")
        if pages_copied < 0:
            raise AccessError("pages_copied must not be negative")
        _check_lengths(requester_name=requester_name, id_number=id_number, purpose=purpose, phone=phone,
                       query=query, result=result, approved_by=approved_by, remarks=remarks)
        _check_id_number(id_type, number)
        digest = self.id_hmac(number)  # before the transaction: may create the key file
        moment = utc(now)
        year = moment.astimezone().year
        with self.db.session() as s:
            reg_number = f"{year}-{next_number(s, f'§register-{year}'):06d}"
            entry = AccessRegisterEntry(
                register_number=reg_number, created_at=moment, clerk=clerk, requester_name=requester_name.strip(),
                id_type=id_type, id_number_masked=mask(number), id_number_hmac=digest,
                phone_masked=mask(re.sub(r"[\s-]", "", phone), 3, 4) if phone else None, relation=relation,
                proof=[p for p in PROOFS if p in proof], purpose=purpose.strip(), query=query,
                items=json.loads(json.dumps(list(items), ensure_ascii=False)), result=result, use=use,
                pages_copied=pages_copied, approved_by=approved_by, remarks=remarks)
            s.add(entry)
            s.flush()
            audit(s, clerk, "register", query=query, items=entry.items, now=moment, id_hmac=self.id_hmac,
                  detail={"register_number": reg_number, "relation": relation, "use": use})
            return entry

    def entry(self, register_number: str) -> AccessRegisterEntry | None:
        with self.db.reading() as s:
            entry = s.scalar(select(AccessRegisterEntry).where(AccessRegisterEntry.register_number == register_number))
            if entry is not None:
                s.expunge(entry)
            return entry

    def complete(self, register_number: str, *, by: str, items: Iterable = (), result: str | None = None,
                 pages_copied: int | None = None, remarks: str | None = None) -> AccessRegisterEntry:
        """After the lookup: add the 档号 looked at, the 利用效果 and the pages copied."""
        _check_lengths(result=result, remarks=remarks)
        with self.db.session() as s:
            entry = s.scalar(select(AccessRegisterEntry).where(AccessRegisterEntry.register_number == register_number))
            if entry is None:
                raise AccessError(f"no register entry {register_number}")
            added = [i for i in json.loads(json.dumps(list(items), ensure_ascii=False)) if i not in entry.items]
            entry.items = entry.items + added
            if result is not None:
                entry.result = result
            if pages_copied is not None:
                entry.pages_copied = pages_copied
            if remarks is not None:
                entry.remarks = remarks
            audit(s, by, "register", items=added, detail={"register_number": register_number, "op": "complete"})
            return entry

    def find(self, *, by: str, query: str | None = None, id_number: str | None = None,
             date_from: date | None = None, date_to: date | None = None,
             limit: int = 1000) -> list[AccessRegisterEntry]:
        """Entries, newest first; ``id_number`` finds every visit with that ID (by its HMAC).
        The lookup itself is audited (``search``), with the ID number masked."""
        stmt = select(AccessRegisterEntry).order_by(AccessRegisterEntry.id.desc()).limit(limit)
        if query:
            stmt = stmt.where(or_(*(col.contains(query, autoescape=True) for col in (
                AccessRegisterEntry.register_number, AccessRegisterEntry.requester_name,
                AccessRegisterEntry.purpose, AccessRegisterEntry.query, AccessRegisterEntry.result,
                AccessRegisterEntry.remarks))))
        if id_number:
            stmt = stmt.where(AccessRegisterEntry.id_number_hmac == self.id_hmac(id_number))
        stmt = date_range(stmt, AccessRegisterEntry.created_at, date_from, date_to)
        with self.db.session() as s:
            found = list(s.scalars(stmt))
            detail: dict[str, Any] = {"what": "access-register", "found": len(found)}
            if id_number:
                detail["id_number"] = mask(normalise_id_number(id_number))
                detail["number_hmacs"] = [self.id_hmac(id_number)]
            if date_from or date_to:
                detail["dates"] = [d.isoformat() if d else None for d in (date_from, date_to)]
            audit(s, by, "search", query=query, detail=detail, id_hmac=self.id_hmac)
            return found

    def export_xlsx(self, out: Path | IO[bytes], entries: Sequence[AccessRegisterEntry], *, by: str) -> None:
        """The register as a spreadsheet with Chinese headers (audited as ``export``).
        Every cell is written as text: a requester name like ``=HYPERLINK(…)`` stays a name."""
        from openpyxl import Workbook

        wb = Workbook()
        ws = wb.active
        ws.title = "查档登记"
        ws.append(XLSX_HEADERS)
        for e in entries:
            row = (e.register_number, utc(e.created_at).astimezone().strftime("%Y-%m-%d %H:%M"), e.clerk,
                   e.requester_name, e.id_type, e.id_number_masked, e.phone_masked or "", e.relation,
                   "、".join(e.proof), e.purpose, e.query or "", "、".join(map(str, e.items)), e.use,
                   e.pages_copied, e.result or "", e.approved_by or "", e.remarks or "")
            ws.append(row)
            for cell in ws[ws.max_row]:
                if isinstance(cell.value, str):
                    cell.data_type = "s"  # never a formula
        for col, width in zip("ABCDEFGHIJKLMNOPQ", (13, 17, 10, 10, 10, 21, 14, 10, 22, 24, 16, 30, 8, 8, 24, 10, 20)):
            ws.column_dimensions[col].width = width
        ws.freeze_panes = "A2"
        wb.save(out)
        AuditLog(self.db).append(by, "export", items=[e.register_number for e in entries],
                                 detail={"what": "access-register", "entries": len(entries),
                                         "to": str(out) if isinstance(out, Path) else None})


# Longest value a register field takes (characters): a name, a number, a sentence or two.
FIELD_LIMITS = {"requester_name": 64, "id_number": 32, "phone": 32, "approved_by": 64, "purpose": 500,
                "query": 500, "result": 1000, "remarks": 1000}


def _check_lengths(**values: str | None) -> None:
    for field, value in values.items():
        if value is not None and len(value) > FIELD_LIMITS[field]:
            raise AccessError(f"{field} is too long: at most {FIELD_LIMITS[field]} characters")


def _one_of(field: str, value: str, allowed: Sequence[str]) -> None:
    if value not in allowed:
        raise AccessError(f"{field} must be one of {', '.join(allowed)}, not {value!r}")

"""Bureau deliverable: a BagIt bag of one fonds, checked with real tools (sha256sum, bagit, qpdf).

The catalog is built directly through the models (no OCR): three items filed on their own
(a 2-frame TIFF with PNG masters, a JPEG with EXIF Make/Model, a PNG), a final volume of two
items (2 + 1 pages) with its PDF, a pre-volume item, an item waiting for review, an item of
another year and one of another fonds.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import bagit
import img2pdf
import openpyxl
import pytest
from PIL import Image, ImageDraw

from pipeline.archive.bag import verify_export
from pipeline.archive.export import ExportError, export_fonds
from pipeline.fileio import safe_name
from pipeline.store.db import Database
from pipeline.store.models import (
    Item,
    ItemState,
    Page,
    ReviewState,
    SourceFile,
    Volume,
    VolumeState,
)

FONDS = "Z001"
TIFF_CODE = "Z001-WS·2018-D30-BGS-0001"
JPEG_CODE = "Z001-WS·2018-D30-BGS-0002"
PNG_CODE = "Z001-WS·2018-D30-BGS-0003"
CODE_2019 = "Z001-WS·2019-D30-BGS-0001"
VOLUME_CODE = "Z001-JF·C02·2018-Y-001"
OPERATIONS = ["deskew 0.50°", "crop 4,6,236,314 margin 2mm"]


def _image(seed: int, fmt: str, **save) -> bytes:
    im = Image.new("RGB", (160, 220), "white")
    draw = ImageDraw.Draw(im)
    draw.rectangle((10 + seed * 7, 20, 60 + seed * 7, 40 + seed * 5), fill=(20, 20, 90))
    out = io.BytesIO()
    im.save(out, format=fmt, dpi=(300, 300), **save)
    return out.getvalue()


def _tiff(seed: int, frames: int) -> bytes:
    pages = [Image.open(io.BytesIO(_image(seed + i, "PNG"))) for i in range(frames)]
    out = io.BytesIO()
    pages[0].save(out, format="TIFF", save_all=True, append_images=pages[1:], dpi=(300, 300),
                  compression="tiff_lzw", tiffinfo={271: "EPSON", 272: "DS-50000"})
    return out.getvalue()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Catalog:
    root: Path
    db: Database
    originals: dict[str, Path]  # 档号 → stored original of its first source


def build_catalog(root: Path) -> Catalog:
    db = Database(f"sqlite:///{root / 'catalog.sqlite3'}")
    originals: dict[str, Path] = {}
    seed = iter(range(1000))

    def add(s, title: str, files: list[tuple[bytes, str]], *, code: str | None = None, year: int = 2018,
            fonds: str = FONDS, **cols) -> Item:
        item = Item(fingerprint=f"fp-{title}", label=f"{title}.scan", title=title, fonds=fonds, year=year,
                    archival_code=code, state=ItemState.DONE if code else ItemState.ARCHIVED, **cols)
        s.add(item)
        s.flush()
        masters: list[bytes] = []
        for position, (data, media_type) in enumerate(files):
            stored = root / "originals" / _sha(data)[:2] / _sha(data)  # content-addressed, no suffix
            stored.parent.mkdir(parents=True, exist_ok=True)
            stored.write_bytes(data)
            originals.setdefault(code or title, stored)
            src = SourceFile(item_id=item.id, position=position, sha256=_sha(data), size=len(data),
                             original_name=f"扫描/{title}-{position}", media_type=media_type,
                             stored_path=str(stored), station="石门镇扫描站-01")
            s.add(src)
            s.flush()
            with Image.open(io.BytesIO(data)) as im:
                frames = getattr(im, "n_frames", 1)
            for frame in range(frames):
                page_no = len(masters) + 1
                if frames == 1 and media_type != "image/tiff":
                    master, master_bytes = stored, data  # a single JPEG/PNG is its own master
                else:
                    with Image.open(io.BytesIO(data)) as im:
                        im.seek(frame)
                        buf = io.BytesIO()
                        im.convert("RGB").save(buf, format="PNG", dpi=(300, 300))
                    master_bytes = buf.getvalue()
                    master = root / "pages" / f"{item.id:08d}" / f"p{page_no:04d}-master.png"
                    master.parent.mkdir(parents=True, exist_ok=True)
                    master.write_bytes(master_bytes)
                masters.append(master_bytes)
                s.add(Page(item_id=item.id, page_no=page_no, source_file_id=src.id, frame=frame,
                           master_path=str(master), master_sha256=_sha(master_bytes), width=150, height=210,
                           dpi=300, colour_mode="colour", operations=json.dumps(OPERATIONS, ensure_ascii=False),
                           quality_flags="low-ocr-confidence" if page_no == 2 else "",
                           ocr_text=f"{title}第{page_no}页", ocr_engine="rapidocr 3.10.0", ocr_confidence=0.9312))
        if code:
            pdf = root / "pdfa" / f"{code}.pdf"
            pdf.parent.mkdir(parents=True, exist_ok=True)
            pdf.write_bytes(img2pdf.convert(masters))
            item.pdf_path, item.pdf_sha256 = str(pdf), _sha(pdf.read_bytes())
        return item

    jpeg_exif = Image.Exif()
    jpeg_exif[271], jpeg_exif[272] = "FUJITSU", "fi-7160"
    with db.session() as s:
        add(s, "关于开展精准扶贫建档立卡工作的通知", [(_tiff(next(seed), 2), "image/tiff")], code=TIFF_CODE,
            doc_number="石府发〔2018〕3号", responsible="石门镇人民政府", doc_date="20180312")
        add(s, "低保申请审批表", [(_image(next(seed), "JPEG", exif=jpeg_exif), "image/jpeg")], code=JPEG_CODE,
            responsible="石门村村民委员会", doc_date="20180405", sensitive="id_number dibao")
        add(s, "[石门村村务公开记录]", [(_image(next(seed), "PNG"), "image/png")], code=PNG_CODE,
            doc_date="20180600")
        add(s, "2019年村民代表大会决议", [(_image(next(seed), "PNG"), "image/png")], code=CODE_2019, year=2019)
        add(s, "其他全宗的文件", [(_image(next(seed), "PNG"), "image/png")], code="Z002-WS·2018-D30-BGS-0001",
            fonds="Z002")
        add(s, "村民代表大会记录", [(_image(next(seed), "PNG"), "image/png")], review_state=ReviewState.PENDING)

        volume = Volume(fonds=FONDS, year=2018, retention="Y", archival_code=VOLUME_CODE,
                        title="石门村王秀英户精准扶贫档案", state=VolumeState.FINAL, volume_key="household:石门村:王秀英")
        pre = Volume(fonds=FONDS, year=2018, title="石门村李四户", volume_key="household:石门村:李四")
        s.add_all([volume, pre])
        s.flush()
        volume_pages: list[bytes] = []
        for position, (title, count) in enumerate([("贫困户申请书", 2), ("帮扶措施登记表", 1)], 1):
            files = [(_image(next(seed), "JPEG"), "image/jpeg") for _ in range(count)]
            volume_pages += [data for data, _ in files]
            add(s, title, files, code=f"{VOLUME_CODE}-{position:04d}", volume_id=volume.id,
                position_in_volume=position, doc_date=f"2018070{position}", responsible="王秀英")
        add(s, "李四户申请书", [(_image(next(seed), "PNG"), "image/png")], volume_id=pre.id, position_in_volume=1)
        volume_pdf = root / "pdfa" / f"{VOLUME_CODE}.pdf"
        volume_pdf.write_bytes(img2pdf.convert(volume_pages))
        volume.pdf_path, volume.pdf_sha256 = str(volume_pdf), _sha(volume_pdf.read_bytes())
    return Catalog(root, db, originals)


@pytest.fixture(scope="module")
def catalog(tmp_path_factory) -> Catalog:
    return build_catalog(tmp_path_factory.mktemp("home"))


@pytest.fixture(scope="module")
def exported(catalog: Catalog):
    calls: list[tuple[int, int]] = []
    out = catalog.root / "export" / "Z001-2018"
    report = export_fonds(catalog.db, FONDS, out, progress=lambda done, total: calls.append((done, total)))
    return out, report, calls


def test_bag_validates_with_sha256sum_bagit_and_verify(exported):
    out, report, calls = exported
    assert report.out_dir == out
    assert (report.items, report.volumes, report.pages) == (6, 1, 8)
    done = subprocess.run(["sha256sum", "--strict", "-c", "manifest-sha256.txt"], cwd=out, check=False,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert subprocess.run(["sha256sum", "--strict", "-c", "tagmanifest-sha256.txt"], cwd=out, check=False).returncode == 0
    bag = bagit.Bag(str(out))
    bag.validate()
    assert bag.info["Source-Organization"] == FONDS
    assert bag.info["Bag-Software-Agent"].startswith("dangan ")
    assert "归档文件4件" in bag.info["External-Description"]
    assert bag.info["Payload-Oxum"] == f"{report.bytes}.{report.files}"
    assert verify_export(out) == []
    assert calls[0][0] == 0 and calls[-1][0] == calls[-1][1] == 8 + 6 + 1  # masters, item PDFs, volume PDF
    assert not list(out.parent.glob(".*partial"))


def test_skipped_items_and_volumes_are_reported(exported):
    skipped = "\n".join(exported[1].skipped)
    assert "「村民代表大会记录」: no 档号 yet (review pending)" in skipped
    assert "「李四户申请书」: its volume" in skipped and skipped.count("预立卷 (pre-volume)") == 2
    assert "「石门村李四户」: 预立卷 (pre-volume)" in skipped
    assert "其他全宗" not in skipped


def test_masters_are_named_by_code_and_keep_original_bytes(exported, catalog):
    out = exported[0]
    names = sorted(p.name for p in (out / "data/masters").iterdir())
    assert names == sorted([f"{TIFF_CODE}-0001.png", f"{TIFF_CODE}-0002.png", f"{JPEG_CODE}-0001.jpg",
                            f"{PNG_CODE}-0001.png", f"{CODE_2019}-0001.png", f"{VOLUME_CODE}-0001-0001.jpg",
                            f"{VOLUME_CODE}-0001-0002.jpg", f"{VOLUME_CODE}-0002-0001.jpg"])
    for code, ext in ((JPEG_CODE, "jpg"), (PNG_CODE, "png")):
        assert (out / f"data/masters/{code}-0001.{ext}").read_bytes() == catalog.originals[code].read_bytes()
    with Image.open(out / f"data/masters/{TIFF_CODE}-0002.png") as im:
        assert im.format == "PNG" and im.size == (160, 220)


def test_pdfs_pass_qpdf(exported):
    out = exported[0]
    pdfs = sorted((out / "data/pdfa").rglob("*.pdf"))
    assert [p.relative_to(out / "data/pdfa").as_posix() for p in pdfs if "volumes" in p.parts] == [
        f"volumes/{VOLUME_CODE}.pdf"]
    assert len(pdfs) == 7
    for pdf in pdfs:
        done = subprocess.run(["qpdf", "--check", str(pdf)], capture_output=True, text=True, check=False)
        assert done.returncode == 0, f"{pdf.name}: {done.stdout}{done.stderr}"


def test_catalog_in_xlsx_csv_and_xml(exported):
    out = exported[0] / "data/catalog"
    book = openpyxl.load_workbook(out / "目录.xlsx")
    assert book.sheetnames == ["归档文件目录", "案卷目录", "卷内目录"]
    filed = list(book["归档文件目录"].values)
    assert filed[0] == ("序号", "档号", "文号", "责任者", "题名", "日期", "密级", "页数", "备注")
    assert [r[1] for r in filed[1:]] == [TIFF_CODE, JPEG_CODE, PNG_CODE, CODE_2019]
    assert filed[1][2:6] == ("石府发〔2018〕3号", "石门镇人民政府", "关于开展精准扶贫建档立卡工作的通知", "20180312")
    assert filed[1][7] == 2 and filed[2][8] == "含个人信息：低保、身份证号"
    assert book["归档文件目录"]["A1"].font.b and book["归档文件目录"].freeze_panes == "A2"
    volumes = list(book["案卷目录"].values)
    assert volumes[1] == (1, VOLUME_CODE, "石门村王秀英户精准扶贫档案", "20180701-20180702", "Y", 2, 3, None)
    inside = list(book["卷内目录"].values)
    assert [(r[0], r[1], r[2], r[7]) for r in inside[1:]] == [
        (VOLUME_CODE, 1, f"{VOLUME_CODE}-0001", 1), (VOLUME_CODE, 2, f"{VOLUME_CODE}-0002", 3)]
    assert not any(VOLUME_CODE in str(r[1]) for r in filed)  # a volume's items only in 卷内目录

    with open(out / "卷内目录.csv", encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0][0] == "案卷档号" and [r[7] for r in rows[1:]] == ["1", "3"]
    assert (out / "归档文件目录.csv").read_bytes().startswith(b"\xef\xbb\xbf")

    root = ET.parse(out / "目录.xml").getroot()
    assert root.tag == "目录" and root.get("全宗号") == FONDS
    assert [e.findtext("档号") for e in root.find("归档文件目录")] == [TIFF_CODE, JPEG_CODE, PNG_CODE, CODE_2019]
    assert [e.findtext("页号") for e in root.find("卷内目录")] == ["1", "3"]
    assert root.find("案卷目录/条目/案卷题名").text == "石门村王秀英户精准扶贫档案"


def test_digitization_metadata_and_ocr_text(exported):
    out = exported[0]
    with open(out / "data/metadata/digitization.csv", encoding="utf-8-sig", newline="") as fh:
        rows = {(r["档号"], r["页号"]): r for r in csv.DictReader(fh)}
    assert len(rows) == 8
    jpeg = rows[(JPEG_CODE, "1")]
    assert jpeg["文件名"] == f"{JPEG_CODE}-0001.jpg" and jpeg["分辨率"] == "300"
    assert (jpeg["宽度"], jpeg["高度"]) == ("160", "220")
    assert jpeg["扫描设备"] == "FUJITSU fi-7160"
    assert jpeg["处理操作"] == "; ".join(OPERATIONS)
    assert jpeg["OCR引擎"] == "rapidocr 3.10.0" and jpeg["OCR置信度"] == "0.931"
    assert jpeg["扫描站点"] == "石门镇扫描站-01" and jpeg["接收时间"].endswith("+00:00")
    assert jpeg["SHA256"] == hashlib.sha256((out / "data/masters" / jpeg["文件名"]).read_bytes()).hexdigest()
    assert rows[(TIFF_CODE, "2")]["扫描设备"] == "EPSON DS-50000"
    assert rows[(TIFF_CODE, "2")]["质量标记"] == "low-ocr-confidence"
    assert rows[(PNG_CODE, "1")]["扫描设备"] == ""
    xml_rows = ET.parse(out / "data/metadata/digitization.xml").getroot().find("数字化元数据")
    assert len(xml_rows) == 8 and xml_rows[0].findtext("SHA256")

    text = (out / f"data/ocr/{TIFF_CODE}.txt").read_text(encoding="utf-8")
    assert text.split("\f") == ["关于开展精准扶贫建档立卡工作的通知第1页", "关于开展精准扶贫建档立卡工作的通知第2页"]


@pytest.mark.parametrize("damage", ["flip", "add", "delete", "tag"])
def test_verify_finds_damage(exported, tmp_path, damage):
    bag = tmp_path / "bag"
    shutil.copytree(exported[0], bag)
    master = bag / f"data/masters/{JPEG_CODE}-0001.jpg"
    if damage == "flip":
        data = bytearray(master.read_bytes())
        data[len(data) // 2] ^= 0x01
        master.write_bytes(bytes(data))
        expected = f"data/masters/{JPEG_CODE}-0001.jpg: SHA-256 mismatch"
    elif damage == "add":
        (bag / "data/masters/stray.jpg").write_bytes(b"x")
        expected = "data/masters/stray.jpg: not in manifest-sha256.txt"
    elif damage == "delete":
        master.unlink()
        expected = f"data/masters/{JPEG_CODE}-0001.jpg: listed in manifest-sha256.txt but missing"
    else:
        with open(bag / "bag-info.txt", "a", encoding="utf-8") as fh:
            fh.write("Contact-Name: 某人\n")
        expected = "bag-info.txt: SHA-256 mismatch"
    problems = verify_export(bag)
    assert any(p.startswith(expected) for p in problems), problems
    if damage in ("add", "delete"):
        assert any("Payload-Oxum" in p for p in problems), problems


def test_file_names_and_non_bags():
    assert safe_name('Z001/WS:2018*"A"|<B>?\\·-0001') == "Z001_WS_2018__A___B___·-0001"
    assert verify_export(Path("/nonexistent")) == ["/nonexistent: no bagit.txt, not a bag"]


def test_refuses_a_non_empty_out_dir(catalog, tmp_path):
    (tmp_path / "old.txt").write_text("x")
    with pytest.raises(ExportError, match="not an empty folder"):
        export_fonds(catalog.db, FONDS, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.txt"]


def test_year_filter_into_an_existing_empty_folder(catalog, tmp_path):
    out = tmp_path / "2019"
    out.mkdir()
    report = export_fonds(catalog.db, FONDS, out, year=2019)
    assert (report.items, report.volumes, report.pages) == (1, 0, 1)
    assert report.skipped == ()  # the 2018 review and pre-volume items are outside the selection
    assert [p.name for p in (out / "data/masters").iterdir()] == [f"{CODE_2019}-0001.png"]
    assert bagit.Bag(str(out)).is_valid() and verify_export(out) == []
    with pytest.raises(ExportError, match="nothing to export"):
        export_fonds(catalog.db, FONDS, tmp_path / "2017", year=2017)


def test_volume_without_pdf_is_built_or_skipped(tmp_path):
    cat = build_catalog(tmp_path)
    with cat.db.session() as s:
        volume = s.query(Volume).filter_by(archival_code=VOLUME_CODE).one()
        volume_id, built = volume.id, Path(volume.pdf_path)
        volume.pdf_path = volume.pdf_sha256 = None
    report = export_fonds(cat.db, FONDS, tmp_path / "skipped", year=2018)
    assert report.volumes == 0 and report.items == 3
    assert any(f"volume {volume_id} 「石门村王秀英户精准扶贫档案」" in r and "no volume PDF" in r for r in report.skipped)
    assert sum(f"its volume {volume_id} has no PDF" in r for r in report.skipped) == 2
    book = openpyxl.load_workbook(tmp_path / "skipped/data/catalog/目录.xlsx")
    assert book["卷内目录"].max_row == 1
    assert all(VOLUME_CODE not in str(r[1]) for r in book["归档文件目录"].values)

    asked: list[int] = []
    report = export_fonds(cat.db, FONDS, tmp_path / "built", year=2018,
                          build_volume=lambda vid: asked.append(vid) or built)
    assert asked == [volume_id] and report.volumes == 1 and report.items == 5
    assert (tmp_path / f"built/data/pdfa/volumes/{VOLUME_CODE}.pdf").read_bytes() == built.read_bytes()


def test_damaged_store_is_not_delivered(tmp_path):
    cat = build_catalog(tmp_path)
    original = cat.originals[JPEG_CODE]
    data = bytearray(original.read_bytes())
    data[100] ^= 0xFF
    original.write_bytes(bytes(data))
    with pytest.raises(ExportError, match="changed since it was written"):
        export_fonds(cat.db, FONDS, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert not list(tmp_path.glob(".out*"))

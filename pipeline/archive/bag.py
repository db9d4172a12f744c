"""BagIt 1.0 (RFC 8493) for the deliverable: manifests, tag files and their verification.

:func:`pipeline.archive.export.export_fonds` writes a bag with these; :func:`verify_export`
checks one as the bureau's intake does (every payload and tag file against its manifest,
Payload-Oxum, nothing missing, nothing extra), so a damaged or tampered delivery is named.
"""

from __future__ import annotations

import re
from pathlib import Path

from pipeline.fileio import sha256_file

TAG_FILES = ("bagit.txt", "bag-info.txt", "manifest-sha256.txt")


def encode_path(path: str) -> str:
    """RFC 8493 §2.1.3: only CR, LF and % are percent-encoded in manifest paths."""
    return path.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def decode_path(path: str) -> str:
    return re.sub(r"%(0[AaDd]|25)", lambda m: chr(int(m[1], 16)), path)


def manifest(entries: dict[str, str]) -> str:
    return "".join(f"{digest}  {encode_path(path)}\n" for path, digest in sorted(entries.items()))


def _labels(path: Path) -> dict[str, str]:
    """``Label: value`` lines of a tag file; indented lines continue the previous value."""
    labels: dict[str, str] = {}
    last = None
    for line in path.read_text(encoding="utf-8").splitlines():
        if line[:1] in (" ", "\t") and last is not None:
            labels[last] += " " + line.strip()
        elif ":" in line:
            last, _, value = line.partition(":")
            last = last.strip()
            labels[last] = value.strip()
    return labels


def _readmanifest(path: Path, problems: list[str]) -> dict[str, str]:
    entries: dict[str, str] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        parts = line.split(None, 1)
        if not parts:
            continue
        if len(parts) != 2 or not re.fullmatch(r"[0-9a-fA-F]{64}", parts[0]):
            problems.append(f"{path.name} line {n}: not '<sha256> <path>'")
            continue
        rel = decode_path(parts[1])
        if rel in entries:
            problems.append(f"{path.name}: {rel} listed twice")
        entries[rel] = parts[0].lower()
    return entries


def _check_entries(root: Path, entries: dict[str, str], manifest: str, problems: list[str]) -> None:
    for rel, digest in entries.items():
        if rel.startswith("/") or ".." in rel.split("/"):
            problems.append(f"{rel}: path in {manifest} points outside the bag")
        elif not (root / rel).is_file():
            problems.append(f"{rel}: listed in {manifest} but missing")
        elif (actual := sha256_file(root / rel)[0]) != digest:
            problems.append(f"{rel}: SHA-256 mismatch (manifest {digest[:12]}…, file {actual[:12]}…)")


def verify_export(out_dir: Path) -> list[str]:
    """Problems with the bag in ``out_dir`` (RFC 8493 validation, SHA-256); [] means intact.

    Checks bagit.txt, that every manifest entry exists with its SHA-256, that no payload
    file is missing from the manifest, Payload-Oxum, and the tag manifest (which must
    cover every tag file). Reads every payload file in full, streamed.
    """
    root = Path(out_dir)
    if not (root / "bagit.txt").is_file():
        return [f"{root}: no bagit.txt, not a bag"]
    problems: list[str] = []
    try:
        declared = _labels(root / "bagit.txt")
        for label in ("BagIt-Version", "Tag-File-Character-Encoding"):
            if label not in declared:
                problems.append(f"bagit.txt: no {label}")
        if not (root / "data").is_dir():
            problems.append("data/: missing")
        on_disk = {p.relative_to(root).as_posix(): p.stat().st_size
                   for p in (root / "data").rglob("*") if not p.is_dir()}
        if not (root / "manifest-sha256.txt").is_file():
            problems.append("manifest-sha256.txt: missing")
        else:
            payload = _readmanifest(root / "manifest-sha256.txt", problems)
            problems += [f"{rel}: listed in manifest-sha256.txt but not under data/"
                         for rel in payload if not rel.startswith("data/")]
            _check_entries(root, payload, "manifest-sha256.txt", problems)
            problems += [f"{rel}: not in manifest-sha256.txt (added after bagging?)"
                         for rel in sorted(on_disk.keys() - payload.keys())]
        oxum = _labels(root / "bag-info.txt").get("Payload-Oxum") if (root / "bag-info.txt").is_file() else None
        actual = f"{sum(on_disk.values())}.{len(on_disk)}"
        if oxum is not None and oxum != actual:
            problems.append(f"bag-info.txt: Payload-Oxum {oxum}, payload is {actual} (bytes.files)")
        if not (root / "tagmanifest-sha256.txt").is_file():
            problems.append("tagmanifest-sha256.txt: missing")
        else:
            tags = _readmanifest(root / "tagmanifest-sha256.txt", problems)
            problems += [f"{rel}: payload file listed in tagmanifest-sha256.txt"
                         for rel in tags if rel.startswith("data/")]
            _check_entries(root, tags, "tagmanifest-sha256.txt", problems)
            tag_files = {p.relative_to(root).as_posix() for p in root.rglob("*")
                         if not p.is_dir() and p.relative_to(root).parts[0] != "data"
                         and not p.name.startswith("tagmanifest-")}
            problems += [f"{rel}: tag file not in tagmanifest-sha256.txt" for rel in sorted(tag_files - tags.keys())]
    except (OSError, UnicodeDecodeError) as e:
        problems.append(f"cannot read the bag: {e}")
    return problems

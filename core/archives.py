"""Reading zip archives safely: members that lead outside the archive's folder are refused, and at most the
configured number of bytes is ever decompressed, per member and per archive (a zip bomb costs the server nothing).

Shared by imports into the store (`core.ingest.import_zip`) and Batch test uploads (`core.batch_uploads`).
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from core.errors import ImageNotReadable, UnsafeArchive
from core.schema import IMAGE_EXTENSIONS
from core.settings import Settings, get_settings

MAX_ZIP_MEMBERS = 100_000
_MB = 1024 * 1024


def is_image_name(name: str) -> bool:
    base = PurePosixPath(name).name
    return not base.startswith(".") and PurePosixPath(name).suffix.lower() in IMAGE_EXTENSIONS


@dataclass(frozen=True)
class ZipLimits:
    """Uncompressed bytes accepted per member and per archive (Settings.import_max_file_mb, zip_max_total_mb)."""

    member_bytes: int
    total_bytes: int

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> ZipLimits:
        settings = settings or get_settings()
        return cls(int(settings.import_max_file_mb * _MB), int(settings.zip_max_total_mb * _MB))


ESCAPING_MEMBER = 'refused: its name leads outside the archive\'s folder ("../" or an absolute path)'


def _escapes(member: zipfile.ZipInfo) -> bool:
    name = member.filename.replace("\\", "/")
    return name.startswith("/") or (len(name) > 1 and name[1] == ":") or ".." in PurePosixPath(name).parts


def _check_members(archive: zipfile.ZipFile) -> tuple[list[zipfile.ZipInfo], list[tuple[str, str]]]:
    """The members that stay inside the archive's folder, and the (name, reason) of those refused: one bad member
    is refused alone, like any other bad file, and the rest is imported."""
    members = archive.infolist()
    if len(members) > MAX_ZIP_MEMBERS:
        raise UnsafeArchive(f"the archive has {len(members)} members; at most {MAX_ZIP_MEMBERS} are accepted")
    refused = [(m.filename, ESCAPING_MEMBER) for m in members if _escapes(m)]
    return [m for m in members if not _escapes(m)], refused


def _open_zip(source: bytes | Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(io.BytesIO(source) if isinstance(source, bytes) else source)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ImageNotReadable("not a valid .zip archive") from exc


def _read_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo, limit: int, too_big: str) -> bytes | str:
    """A member's bytes, or why it was skipped. The header's size is only a claim: at most `limit` + 1 bytes are
    ever decompressed, and it is the real count that is judged."""
    if member.file_size > limit:
        return too_big
    try:
        with archive.open(member) as fh:
            data = fh.read(limit + 1)
    except (zipfile.BadZipFile, OSError, RuntimeError, EOFError, NotImplementedError) as exc:
        return f"unreadable archive member: {exc}"
    return too_big if len(data) > limit else data


def iter_zip(
    source: bytes | Path, limits: ZipLimits | None = None
) -> tuple[int, Iterator[tuple[str, bytes]], list[tuple[str, str]]]:
    """Image members of a zip (count, iterator of (name, bytes), skipped members with their reason, filled while
    iterating).
    Skips (and lists) `../` and absolute member paths, and members beyond the size limits."""
    limits = limits or ZipLimits.from_settings()
    archive = _open_zip(source)
    members, refused = _check_members(archive)
    images = [m for m in members if not m.is_dir() and is_image_name(m.filename) and "__MACOSX" not in m.filename]
    skipped = refused + [
        (m.filename, "not an image file name")
        for m in members
        if not m.is_dir() and m not in images and not PurePosixPath(m.filename).name.startswith(".")
    ]

    member_too_big = f"expands to more than {limits.member_bytes / _MB:g} MB (IMPORT_MAX_FILE_MB)"
    total_reached = f"the archive expands to more than {limits.total_bytes / _MB:g} MB (ZIP_MAX_TOTAL_MB)"

    def gen() -> Iterator[tuple[str, bytes]]:
        left = limits.total_bytes
        with archive:
            for member in images:
                if member.file_size > limits.member_bytes:
                    skipped.append((member.filename, member_too_big))
                    continue
                if left < limits.member_bytes:
                    payload = _read_member(archive, member, left, total_reached)
                else:
                    payload = _read_member(archive, member, limits.member_bytes, member_too_big)
                if isinstance(payload, str):
                    skipped.append((member.filename, payload))
                    continue
                left -= len(payload)
                yield member.filename, payload

    return len(images), gen(), skipped


def safe_extract_zip(
    data: bytes | Path, dest: Path, limits: ZipLimits | None = None
) -> tuple[list[Path], list[tuple[str, str]]]:
    """Extract a zip's image members under `dest` (`../` and absolute names are skipped, as are oversized members).
    Returns their paths and the (member, reason) of those skipped."""
    _, members, skipped = iter_zip(data, limits)
    out = []
    dest = Path(dest)
    for name, payload in members:
        target = (dest / name).resolve()
        if not target.is_relative_to(dest.resolve()):  # belt and braces after _check_members
            raise UnsafeArchive(f"member {name!r} escapes the destination")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(payload)
        out.append(target)
    return out, skipped

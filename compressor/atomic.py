"""Write artifacts so that a reader never sees half of one: write beside the target, then rename into place."""

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

from .errors import BadInput


_UMASK = os.umask(0)
os.umask(_UMASK)


def check_output_folder(out: Path):
    """Refuse, before any work, an output folder that is (or lies under) an existing file."""
    existing = next((p for p in (out, *out.parents) if p.exists()), None)
    if existing is not None and not existing.is_dir():
        raise BadInput(f"--out {out}: {existing} is a file; the output must be a folder")


def write_bytes(path, data: bytes) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; artifacts get the usual permissions
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_text(path, text: str) -> Path:
    return write_bytes(path, text.encode("utf-8"))


@contextmanager
def staged_file(path):
    """Yield a temporary path beside `path` for a library that insists on writing a file itself
    (e.g. keras `model.save`); it is moved into place only if the block finishes."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.stem}.part{path.suffix}"
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _folder_beside(path: Path) -> Path:
    """A new hidden folder next to `path` (same file system: moving out of it is a rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent))
    os.chmod(tmp, 0o777 & ~_UMASK)
    return tmp


@contextmanager
def staged_dir(path):
    """Yield a temporary directory beside `path`; on success it replaces `path` whole."""
    path = Path(path)
    tmp = _folder_beside(path)
    try:
        yield tmp
        if path.exists():
            old = path.with_name(f".{path.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def staged_outputs(out):
    """Yield a temporary folder beside `out` to write a run into; when the block finishes, each file and folder in
    it (hidden ones, such as a checkpoint, dropped) replaces its namesake in `out`, and nothing else in `out` is
    touched. A run that raises leaves `out` as it was."""
    out = Path(out)
    tmp = _folder_beside(out)
    try:
        yield tmp
        out.mkdir(exist_ok=True)
        for entry in sorted(tmp.iterdir()):
            if entry.name.startswith("."):
                continue
            target = out / entry.name
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            os.replace(entry, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

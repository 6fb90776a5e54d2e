"""How ``obreg import`` opens what it is given on the file system: the two homes, the
operator's own files (``--stock-truststore``, ``--truststore-password-file``,
``--key-manager-credentials``, ``--key-manager-ca``) and ``-o``.

One rule for every folder named on the command line (a home, ``-o``): its last step is
the folder itself, never a link, and it is opened once (``O_DIRECTORY | O_NOFOLLOW``);
everything in it is then read or written relative to that descriptor, so renaming or
replacing the folder, or any folder above it, while the import runs changes nothing the
import reads or writes. The folders above are the operator's own path and are resolved
once, by that open. One rule for every file read: it is a regular file, within
``budgets.MANIFEST_BYTES`` (its size looked at first, then at most one byte more read),
read once (``read_bounded``, through which every byte the import reads goes).
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from .. import budgets
from ..errors import InvalidInput, Problem, Where


def open_folder(path: Path, flag: str) -> int:
    """A descriptor of the folder ``path`` names (a ``pathlib.Path``, so without a
    trailing slash, which would make the kernel follow a link); refused naming the flag
    and the path when it is a link, not a folder, or absent."""
    try:
        return os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as err:
        if err.errno in (errno.ENOTDIR, errno.ELOOP) and path.is_symlink():
            message = f"{path} is a link: the import opens only the folder itself"
            hint = "name the folder the link points to, after checking it is yours"
        elif err.errno == errno.ENOTDIR:
            message, hint = f"{path} is not a folder", ""
        elif err.errno == errno.ENOENT:
            message, hint = f"{path} does not exist", ""
        else:
            message, hint = f"cannot open {path}: {err.strerror}", ""
        # Problem's text is escaped (errors.printable): the path may hold anything.
        raise InvalidInput([Problem(flag, "-", message, hint)]) from None


def read_bounded(descriptor: int, where: Where) -> bytes:
    """The bytes of an open regular file, within ``budgets.MANIFEST_BYTES``; closes it.
    The one place the import reads a file's bytes."""
    budget = budgets.MANIFEST_BYTES
    with os.fdopen(descriptor, "rb") as source:
        found = os.fstat(source.fileno())
        if not stat.S_ISREG(found.st_mode):
            raise where.refuse("is not a regular file (no FIFO, device, socket or folder)")
        if found.st_size > budget:
            raise where.refuse(f"larger than {budget} bytes")
        data = source.read(budget + 1)
    if len(data) > budget:  # grew since the fstat
        raise where.refuse(f"larger than {budget} bytes")
    return data


def read_own(path: Path, flag: str) -> bytes:
    """One of the operator's own files, named by a flag: opened as named (a link the
    operator made is theirs to follow), then held to the homes' rules for a file (a
    regular file within the byte budget), so a FIFO or /dev/zero given by mistake is
    refused rather than read forever."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as err:
        raise InvalidInput([Problem(flag, "-", f"cannot read {path}: {err.strerror}")]) from None
    return read_bounded(descriptor, Where(flag, "-"))

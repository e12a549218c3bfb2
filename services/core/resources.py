"""Files that ship inside the package: migrations, templates, static files, the catalog.

In the repository ``schema/`` and ``templates/`` stay at the top; ``setup.py`` maps them
into the package as ``services.schema`` and ``services.templates``, so an installed
wheel carries them, and an editable install finds them where they are.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from .errors import VerdictsError


class MissingPackageDataError(VerdictsError):
    def __init__(self, what: str) -> None:
        super().__init__(
            f"{what} is missing from the installed package: reinstall verdicts from its "
            "wheel or source (`pip install .`), not from a copy of the services/ folder"
        )
        self.what = what


def package_path(package: str, *parts: str) -> Path:
    """The file or folder ``parts`` inside ``package``, on disk.

    Jinja and Litestar read templates and static files from folders, so this is a real
    path: pip installs wheels unpacked, never zipped.
    """
    try:
        found = files(package).joinpath(*parts)
    except ModuleNotFoundError:
        raise MissingPackageDataError(package) from None
    if not isinstance(found, Path) or not found.exists():
        raise MissingPackageDataError("/".join((package, *parts)))
    return found

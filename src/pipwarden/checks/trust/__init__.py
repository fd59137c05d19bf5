"""Trust checks (PW2xx): the signals about a package that are hard to fake.

Download counts and stars prove nothing; a name one keystroke from a popular project, a
repository claim that does not match, a release hours old, a version that jumps to 999, a
wheel that installs somebody else's module name do. Each module is one family:

* :mod:`.names` — typosquats and repository claims (star-jacking), PW201–PW209
* :mod:`.history` — release history and lifecycle, PW210–PW229
* :mod:`.maintainers` — ownership changes and maintainer e-mail domains, PW230–PW239
* :mod:`.metadata` — index metadata vs the archive's own, PW240–PW249
* :mod:`.installs` — what installing the package puts on the machine, PW250–PW259

Checks read index data from ``PackageContext.project`` (simple API) and ``.release`` (JSON
API); without them (local files) the checks that need them stay silent.
"""

from __future__ import annotations

from pipwarden.checks.trust._common import (
    archive_metadata,
    min_age_days,
    now,
    release_files,
    upload_history,
)

__all__ = ["archive_metadata", "min_age_days", "now", "release_files", "upload_history"]

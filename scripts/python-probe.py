"""Answers scripts/python-env.ts in one JSON line: which interpreter this is, and for each requirement
named on the command line (`moto[server]`, `cfn-lint`) the installed version and which distributions its
extras need that are missing. Reads installed metadata only: imports nothing, touches no network."""
import json
import re
import sys
from importlib import metadata


def installed_version(name):
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def missing_for_extras(name, extras):
    """Distributions an extra needs that are not installed. Requirements whose marker says more than
    `extra == "x"` (a Python version, a platform) cannot be judged without `packaging`: left out."""
    missing = []
    for requirement in metadata.requires(name) or []:
        match = re.match(r'^\s*([A-Za-z0-9][A-Za-z0-9._-]*)[^;]*;\s*extra\s*==\s*["\']([^"\']+)["\']\s*$', requirement)
        if match and match.group(2) in extras and installed_version(match.group(1)) is None:
            missing.append(match.group(1))
    return missing


packages = {}
for argument in sys.argv[1:]:
    name, _, rest = argument.partition('[')
    extras = [extra.strip() for extra in rest.rstrip(']').split(',') if extra.strip()]
    version = installed_version(name)
    packages[name] = {'version': version, 'missing': missing_for_extras(name, extras) if version else []}

print(json.dumps({'executable': sys.executable, 'version': list(sys.version_info[:3]), 'packages': packages}))

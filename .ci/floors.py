"""Print every dependency of setup.cfg pinned to its floor (``name>=v`` as ``name==v``), one a
line: the constraints file of CI's lowest-declared-versions check (``pip install -c``)."""

import configparser
import re
from pathlib import Path

config = configparser.ConfigParser()
config.read(Path(__file__).resolve().parent.parent / "setup.cfg")
options = config["options"], config["options.extras_require"]
requirements = [
    line.strip()
    for section in options
    for key in (["install_requires"] if section.name == "options" else section)
    for line in section[key].splitlines()
    if line.strip()
]
for requirement in requirements:
    if requirement.startswith("dan-dice["):  # an extra of this package: its own lines are here
        continue
    match = re.fullmatch(r"([A-Za-z0-9_.\-]+)>=([0-9][0-9.]*)", requirement)
    if match is None:
        raise SystemExit(f"setup.cfg: {requirement!r} has no floor (name>=version)")
    print(f"{match[1]}=={match[2]}")

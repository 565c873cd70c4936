"""The flags a Tributary binary really has, read from its --helpfull.

Shared by the deploy tests: a manifest or unit that passes a flag the
binary does not define (renamed, removed, misspelt) fails them.
"""

import re
import subprocess

_FLAG = re.compile(r"^    --([A-Za-z0-9_]+) \(", re.MULTILINE)
_DEFAULT = re.compile(r'default: "?([^";]*)"?;')


def read_flags(binary):
  """Returns {flag name: default value as text} from BINARY --helpfull."""
  result = subprocess.run([binary, "--helpfull"], capture_output=True, text=True, timeout=30)
  text = result.stdout + result.stderr
  flags = {}
  matches = list(_FLAG.finditer(text))
  for i, match in enumerate(matches):
    end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
    # The last "default:" of the entry: its help text may say "default" too.
    defaults = _DEFAULT.findall(text, match.end(), end)
    flags[match.group(1)] = defaults[-1] if defaults else ""
  if not flags:
    raise RuntimeError(f"{binary} --helpfull listed no flags:\n{text}")
  return flags


def parse_args(args):
  """Splits ["--a=1", "--b", ...] into {"a": "1", "b": "true"}; later ones win."""
  flags = {}
  for arg in args:
    if not arg.startswith("-"):
      raise ValueError(f"not a flag: {arg!r}")
    name, _, value = arg.lstrip("-").partition("=")
    flags[name] = value if "=" in arg else "true"
  return flags


def port_of(address):
  """"HOST:PORT" -> PORT as an int."""
  return int(address.rsplit(":", 1)[1])


def host_of(address):
  return address.rsplit(":", 1)[0]

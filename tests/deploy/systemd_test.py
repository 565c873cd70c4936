#!/usr/bin/env python3
"""deploy/systemd/: the units pass systemd-analyze verify and name real flags.

verify runs on copies of the units whose ExecStart points at the built
binaries (it wants the binary to exist), with an instance of the worker
template; a warning counts as a failure. The flags in ExecStart and in the
environment files the units read exist in the binaries' --helpfull.

  systemd_test.py --bin_dir=build/bin [unittest args]

Exits 77 (ctest: skipped) where systemd-analyze is missing.
"""

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from binary_flags import parse_args, read_flags  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
UNITS = os.path.join(ROOT, "deploy", "systemd")
INSTALLED_BIN = "/usr/local/bin/"
BIN_DIR = None

# Each unit, the instance verify loads, and the environment file it reads.
CASES = {
    "tributary-coordinator.service": ("tributary-coordinator.service", "coordinator.env"),
    "tributary-worker@.service": ("tributary-worker@1.service", "worker.env"),
}


def unit_lines(path, key):
  with open(path) as f:
    return [line.split("=", 1)[1].strip() for line in f if line.startswith(key + "=")]


def exec_start_flags(path):
  """ExecStart's flags, less the $VARIABLES the environment files fill in."""
  words = unit_lines(path, "ExecStart")[0].split()
  return words[0], [w for w in words[1:] if not w.startswith("$")]


def env_file_flags(path):
  """TRIBUTARY_FLAGS="..." -> the words in it."""
  with open(path) as f:
    for line in f:
      if line.startswith("TRIBUTARY_FLAGS="):
        return shlex.split(line.split("=", 1)[1])[0].split()
  return []


class SystemdTest(unittest.TestCase):

  def test_units_verify_cleanly(self):
    with tempfile.TemporaryDirectory() as tmp:
      for unit, (instance, _) in CASES.items():
        with open(os.path.join(UNITS, unit)) as f:
          text = f.read()
        with open(os.path.join(tmp, unit), "w") as f:
          f.write(text.replace(INSTALLED_BIN, os.path.abspath(BIN_DIR) + "/"))
        result = subprocess.run(["systemd-analyze", "verify", "--man=no", os.path.join(tmp, instance)],
                                capture_output=True, text=True, timeout=60)
        output = (result.stdout + result.stderr).strip()
        self.assertEqual(result.returncode, 0, f"{unit}:\n{output}")
        self.assertEqual(output, "", f"{unit}: systemd-analyze verify warns:\n{output}")

  def test_flags_exist(self):
    for unit, (_, env_file) in CASES.items():
      self.assertEqual(len(unit_lines(os.path.join(UNITS, unit), "ExecStart")), 1, unit)
      program, flags = exec_start_flags(os.path.join(UNITS, unit))
      self.assertTrue(program.startswith(INSTALLED_BIN), f"{unit}: runs {program}")
      binary = os.path.basename(program)
      known = read_flags(os.path.join(BIN_DIR, binary))
      env_path = os.path.join(UNITS, env_file)
      self.assertIn(f"-/etc/tributary/{env_file}", unit_lines(os.path.join(UNITS, unit), "EnvironmentFile"))
      for source, args in ((unit, flags), (env_file, env_file_flags(env_path))):
        self.assertTrue(args, f"{source}: no flags")
        for name in parse_args(args):
          self.assertTrue(name in known, f"{source}: {binary} has no flag --{name}")

  def test_state_and_cache_dirs_are_the_units_own(self):
    coordinator = os.path.join(UNITS, "tributary-coordinator.service")
    state_dir = parse_args(exec_start_flags(coordinator)[1])["state_dir"]
    self.assertEqual(state_dir, "%S/" + unit_lines(coordinator, "StateDirectory")[0])
    worker = os.path.join(UNITS, "tributary-worker@.service")
    cache_dir = parse_args(exec_start_flags(worker)[1])["cache_dir"]
    self.assertEqual(cache_dir, "%C/" + unit_lines(worker, "CacheDirectory")[0])

  def test_hardened(self):
    for unit in CASES:
      path = os.path.join(UNITS, unit)
      for key, value in (("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"), ("ProtectHome", "yes"),
                         ("PrivateTmp", "yes"), ("Restart", "on-failure"), ("User", "tributary"),
                         ("SystemCallFilter", "@system-service")):
        self.assertIn(value, unit_lines(path, key), f"{unit}: {key}={value}")


if __name__ == "__main__":
  parser = argparse.ArgumentParser()
  parser.add_argument("--bin_dir", default=os.path.join(ROOT, "build", "bin"))
  args, rest = parser.parse_known_args()
  BIN_DIR = args.bin_dir
  if not shutil.which("systemd-analyze"):
    print("SKIP: systemd-analyze is not installed (Debian package systemd)")
    sys.exit(77)
  unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)

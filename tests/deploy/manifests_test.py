#!/usr/bin/env python3
"""deploy/compose.yaml, deploy/k8s/ and deploy/Dockerfile name what the binaries have.

Every flag they pass exists in the binary's --helpfull, the ports they
publish and probe are the ones --listen and --http open, the volume they
mount is --state_dir, the secrets they mount are the files the flags name,
and the secret files are the ones deploy/make-certs.sh writes.

  manifests_test.py --bin_dir=build/bin [unittest args]

Exits 77 (ctest: skipped) without python3-yaml.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import unittest

try:
  import yaml
except ImportError:
  print("SKIP: python3-yaml is not installed (tools/install-deps.sh installs it)")
  sys.exit(77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from binary_flags import host_of, parse_args, port_of, read_flags  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEPLOY = os.path.join(ROOT, "deploy")
BINARIES = ("tributary-coordinator", "tributary-worker")
BIN_DIR = None
_flags_cache = {}


def binary_flags(binary):
  if binary not in _flags_cache:
    _flags_cache[binary] = read_flags(os.path.join(BIN_DIR, binary))
  return _flags_cache[binary]


def make_certs_outputs():
  """The file names deploy/make-certs.sh writes for a server and no clients."""
  with tempfile.TemporaryDirectory() as out:
    subprocess.run([os.path.join(DEPLOY, "make-certs.sh"), out, "coordinator"], check=True,
                   capture_output=True, timeout=60)
    return set(os.listdir(out))


def interpolate(text):
  """Compose's ${VAR:-default} and ${VAR}, as with nothing in the environment."""
  return re.sub(r"\$\{[A-Za-z_][A-Za-z0-9_]*(?::?-([^}]*))?\}", lambda m: m.group(1) or "", text)


class FlagsTestCase(unittest.TestCase):

  def assertKnownFlags(self, command, where):
    """COMMAND is [binary, flags...]; returns the flags as a dict, defaults filled in."""
    binary = os.path.basename(command[0])
    self.assertIn(binary, BINARIES, f"{where}: runs {command[0]}")
    known = binary_flags(binary)
    given = parse_args(command[1:])
    for name in given:
      self.assertTrue(name in known, f"{where}: {binary} has no flag --{name}")
    return {**known, **given}


class ComposeTest(FlagsTestCase):

  @classmethod
  def setUpClass(cls):
    with open(os.path.join(DEPLOY, "compose.yaml")) as f:
      cls.compose = yaml.safe_load(interpolate(f.read()))
    cls.services = cls.compose["services"]

  def flags(self, service):
    return self.assertKnownFlags(self.services[service]["command"], f"compose.yaml: {service}")

  def test_every_flag_exists(self):
    for service in self.services:
      self.flags(service)

  def test_state_dir_is_a_named_volume(self):
    state_dir = self.flags("coordinator")["state_dir"]
    mounts = dict(reversed(v.split(":")[:2]) for v in self.services["coordinator"]["volumes"])
    self.assertIn(state_dir, mounts, "--state_dir is not a mounted volume")
    self.assertIn(mounts[state_dir], self.compose["volumes"], "the state volume is not a named volume")

  def test_published_ports_are_the_ones_the_coordinator_opens(self):
    flags = self.flags("coordinator")
    published = {int(p.rsplit(":", 1)[1]) for p in self.services["coordinator"]["ports"]}
    for flag in ("listen", "http"):
      self.assertEqual(host_of(flags[flag]), "0.0.0.0", f"--{flag} must listen beyond the container")
      self.assertIn(port_of(flags[flag]), published, f"--{flag}'s port is not published")

  def test_workers_dial_the_coordinator_service(self):
    listen = self.flags("coordinator")["listen"]
    self.assertEqual(self.flags("worker")["coordinator"], f"coordinator:{port_of(listen)}")

  def test_secret_files_are_mounted_and_made_by_make_certs(self):
    made = make_certs_outputs() | {"join_token"}
    for name, secret in self.compose["secrets"].items():
      self.assertIn(os.path.basename(secret["file"]), made, f"secret {name}: nothing makes {secret['file']}")
    for service in self.services:
      flags = self.flags(service)
      for flag, value in flags.items():
        if value.startswith("/run/secrets/"):
          secret = value[len("/run/secrets/"):]
          self.assertIn(secret, self.services[service]["secrets"], f"{service}: --{flag}={value} not mounted")
          self.assertIn(secret, self.compose["secrets"])

  def test_tls_is_on_at_both_ends(self):
    coordinator, worker = self.flags("coordinator"), self.flags("worker")
    for flag in ("tls_cert", "tls_key", "join_token_file"):
      self.assertTrue(coordinator[flag], f"coordinator: --{flag} is not set")
    for flag in ("tls_ca", "join_token_file"):
      self.assertTrue(worker[flag], f"worker: --{flag} is not set")


class KubernetesTest(FlagsTestCase):

  @classmethod
  def setUpClass(cls):
    k8s = os.path.join(DEPLOY, "k8s")
    with open(os.path.join(k8s, "kustomization.yaml")) as f:
      cls.kustomization = yaml.safe_load(f)
    cls.objects = {}
    for resource in cls.kustomization["resources"]:
      with open(os.path.join(k8s, resource)) as f:
        for doc in yaml.safe_load_all(f):
          cls.objects[doc["kind"]] = doc
    cls.service = cls.objects["Service"]
    cls.coordinator = cls.objects["StatefulSet"]
    cls.worker = cls.objects["Deployment"]

  def container(self, workload):
    containers = workload["spec"]["template"]["spec"]["containers"]
    self.assertEqual(len(containers), 1)
    return containers[0]

  def flags(self, workload):
    container = self.container(workload)
    env = {e["name"] for e in container.get("env", [])}
    for arg in container["args"]:
      for var in re.findall(r"\$\(([A-Za-z_0-9]+)\)", arg):
        self.assertIn(var, env, f"{workload['metadata']['name']}: $({var}) is not in env")
    return self.assertKnownFlags(container["args"], workload["metadata"]["name"])

  def container_ports(self, workload):
    return {p["name"]: p["containerPort"] for p in self.container(workload)["ports"]}

  def test_every_flag_exists(self):
    self.flags(self.coordinator)
    self.flags(self.worker)

  def test_state_dir_is_the_volume_claim(self):
    state_dir = self.flags(self.coordinator)["state_dir"]
    claims = {c["metadata"]["name"] for c in self.coordinator["spec"]["volumeClaimTemplates"]}
    mounts = {m["mountPath"]: m["name"] for m in self.container(self.coordinator)["volumeMounts"]}
    self.assertIn(state_dir, mounts, "--state_dir is not mounted")
    self.assertIn(mounts[state_dir], claims, "--state_dir is not on the PersistentVolumeClaim")

  def test_container_ports_are_the_ones_the_coordinator_opens(self):
    flags = self.flags(self.coordinator)
    ports = self.container_ports(self.coordinator)
    self.assertEqual(ports["grpc"], port_of(flags["listen"]))
    self.assertEqual(ports["http"], port_of(flags["http"]))
    self.assertEqual(host_of(flags["http"]), "0.0.0.0", "probes and Prometheus reach the pod's address")

  def test_probes_ask_healthz_on_the_status_port(self):
    container = self.container(self.coordinator)
    ports = self.container_ports(self.coordinator)
    for probe in ("readinessProbe", "livenessProbe"):
      get = container[probe]["httpGet"]
      self.assertEqual(get["path"], "/healthz")
      self.assertEqual(ports.get(get["port"], get["port"]), port_of(self.flags(self.coordinator)["http"]))

  def test_prometheus_scrapes_metrics_on_the_status_port(self):
    annotations = self.coordinator["spec"]["template"]["metadata"]["annotations"]
    self.assertEqual(annotations["prometheus.io/scrape"], "true")
    self.assertEqual(annotations["prometheus.io/path"], "/metrics")
    self.assertEqual(int(annotations["prometheus.io/port"]), port_of(self.flags(self.coordinator)["http"]))
    self.assertFalse(self.flags(self.coordinator)["http_token_file"],
                     "with --http_token_file, /metrics wants a token the annotations cannot give")

  def test_service_selects_the_coordinator_and_its_ports(self):
    labels = self.coordinator["spec"]["template"]["metadata"]["labels"]
    self.assertLessEqual(self.service["spec"]["selector"].items(), labels.items())
    self.assertEqual(self.coordinator["spec"]["serviceName"], self.service["metadata"]["name"])
    ports = self.container_ports(self.coordinator)
    for port in self.service["spec"]["ports"]:
      self.assertIn(port["targetPort"], ports)
      self.assertEqual(port["port"], ports[port["targetPort"]])

  def test_workers_dial_the_service(self):
    grpc = next(p["port"] for p in self.service["spec"]["ports"] if p["name"] == "grpc")
    self.assertEqual(self.flags(self.worker)["coordinator"], f"{self.service['metadata']['name']}:{grpc}")

  def test_secret_files_are_mounted_and_made_by_make_certs(self):
    generator = self.kustomization["secretGenerator"][0]
    keys = dict(entry.split("=", 1) for entry in generator["files"])
    made = make_certs_outputs() | {"join_token"}
    for key, path in keys.items():
      self.assertIn(os.path.basename(path), made, f"Secret key {key}: nothing makes {path}")
    for workload in (self.coordinator, self.worker):
      volumes = {v["name"]: v for v in workload["spec"]["template"]["spec"]["volumes"]}
      mounted = {}
      for mount in self.container(workload)["volumeMounts"]:
        secret = volumes.get(mount["name"], {}).get("secret")
        if secret:
          self.assertEqual(secret["secretName"], generator["name"])
          for item in secret["items"]:
            self.assertIn(item["key"], keys)
            mounted[os.path.join(mount["mountPath"], item["path"])] = item["key"]
      for flag, value in self.flags(workload).items():
        if flag in ("tls_cert", "tls_key", "tls_ca", "tls_client_ca", "join_token_file") and value:
          self.assertIn(value, mounted, f"{workload['metadata']['name']}: --{flag}={value} is not mounted")


class DockerfileTest(FlagsTestCase):

  @classmethod
  def setUpClass(cls):
    with open(os.path.join(DEPLOY, "Dockerfile")) as f:
      cls.lines = [line.strip() for line in f if line.strip() and not line.startswith("#")]

  def instruction(self, name):
    return [line[len(name) + 1:] for line in self.lines if line.startswith(name + " ")]

  def test_cmd_flags_exist_and_ports_are_exposed(self):
    flags = self.assertKnownFlags(json.loads(self.instruction("CMD")[-1]), "Dockerfile CMD")
    exposed = {int(p) for p in self.instruction("EXPOSE")[-1].split()}
    self.assertEqual(exposed, {port_of(flags["listen"]), port_of(flags["http"])})
    self.assertEqual(host_of(flags["http"]), "0.0.0.0", "the status endpoint must be reachable in a container")

  def test_builds_with_the_readme_scripts_and_runs_as_a_user(self):
    text = "\n".join(self.lines)
    self.assertIn("install-deps.sh --build", text)
    self.assertIn("tools/build.sh", text)
    self.assertIn("install-deps.sh --runtime", text)
    self.assertNotEqual(self.instruction("USER")[-1], "root")
    self.assertIn("tributary-healthcheck", self.instruction("HEALTHCHECK")[-1])


if __name__ == "__main__":
  parser = argparse.ArgumentParser()
  parser.add_argument("--bin_dir", default=os.path.join(ROOT, "build", "bin"))
  args, rest = parser.parse_known_args()
  BIN_DIR = args.bin_dir
  unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)

#!/usr/bin/env python3
"""Checks docker/compose.yaml, the quick start, without pulling anything.

Its images cannot be pulled here, so this test checks what can go wrong
silently: that the file parses, that the databases are configured for change
capture, and that the sluice service is wired the way docker/Dockerfile
builds the image (the HTTP port, the connector and state directories, the
environment) and the way the connector files of docker/connectors expect
(host names, ports, ${VARIABLES}, the publication). With --sluice, the
connector files also go through `sluice check` with the service's
environment.

Usage: tests/container/test_compose.py [--sluice PATH] [unittest options]
"""
import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import unittest

import yaml

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DOCKER = os.path.join(REPO, "docker")
SLUICE = None


def dockerfile_instructions(path):
    """The Dockerfile's instructions as (KEYWORD, arguments), continuation lines joined."""
    out, pending = [], ""
    with open(path) as f:
        for raw in f:
            line = raw.rstrip("\n")
            if not pending and (not line.strip() or line.lstrip().startswith("#")):
                continue
            if line.endswith("\\"):
                pending += line[:-1] + " "
                continue
            line = pending + line
            pending = ""
            word, _, rest = line.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def exec_form(args):
    """The list of an exec-form instruction (["a", "b"])."""
    return json.loads(args)


def port_of(address):
    return int(address.rsplit(":", 1)[1])


def environment(service):
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(e.split("=", 1) for e in env)
    return {k: str(v) for k, v in env.items()}


def container_ports(service):
    """{container port: host port} of a service's "HOST:CONTAINER" mappings."""
    out = {}
    for p in service.get("ports", []):
        host, _, container = str(p).rpartition(":")
        out[int(container.split("/")[0])] = int(host) if host else None
    return out


class Compose(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(os.path.join(DOCKER, "compose.yaml")) as f:
            cls.compose = yaml.safe_load(f)
        cls.services = cls.compose["services"]
        cls.sluice = cls.services["sluice"]
        cls.image = dockerfile_instructions(os.path.join(DOCKER, "Dockerfile"))
        cls.connectors = {}
        for name in sorted(os.listdir(os.path.join(DOCKER, "connectors"))):
            path = os.path.join(DOCKER, "connectors", name)
            with open(path) as f:
                cls.connectors[name] = json.load(f)  # also the .disabled examples

    def last(self, keyword):
        values = [args for word, args in self.image if word == keyword]
        self.assertTrue(values, f"docker/Dockerfile has no {keyword}")
        return values[-1]

    def test_it_has_the_quick_starts_services(self):
        self.assertEqual(
            sorted(self.services), ["kafka", "mariadb", "postgres", "registry", "sluice"]
        )
        for name, service in self.services.items():
            for dep, cond in service.get("depends_on", {}).items():
                self.assertIn(dep, self.services, f"{name} depends on a missing {dep}")
                if cond.get("condition") == "service_healthy":
                    self.assertIn("healthcheck", self.services[dep], f"{dep} has no healthcheck")

    def test_postgres_writes_logical_wal_and_has_the_publication(self):
        pg = self.services["postgres"]
        self.assertIn("wal_level=logical", pg["command"])
        init = [v for v in pg["volumes"] if "/docker-entrypoint-initdb.d/" in v]
        self.assertEqual(len(init), 1)
        sql_path = os.path.normpath(os.path.join(DOCKER, init[0].split(":")[0]))
        with open(sql_path) as f:
            sql = f.read()
        for conn in self.connectors.values():
            if conn["database.hostname"] != "postgres":
                continue
            self.assertEqual(conn["database.dbname"], environment(pg)["POSTGRES_DB"])
            if conn.get("publication.autocreate.mode") == "disabled":
                self.assertIn(f"CREATE PUBLICATION {conn['publication.name']} ", sql)
            self.assertRegex(sql, rf"CREATE ROLE {conn['database.user']} WITH LOGIN REPLICATION")

    def test_mariadb_writes_a_full_row_binlog(self):
        args = self.services["mariadb"]["command"]
        for flag in ("--binlog-format=ROW", "--binlog-row-image=FULL"):
            self.assertIn(flag, args)
        self.assertTrue(any(a.startswith("--log-bin") for a in args))
        self.assertTrue(any(a.startswith("--server-id=") for a in args))

    def test_kafka_runs_kraft_and_advertises_what_connectors_use(self):
        env = environment(self.services["kafka"])
        self.assertEqual(env["KAFKA_PROCESS_ROLES"], "broker,controller")
        advertised = {a.split("://", 1)[1] for a in env["KAFKA_ADVERTISED_LISTENERS"].split(",")}
        for name, conn in self.connectors.items():
            for server in conn["kafka.bootstrap.servers"].split(","):
                self.assertIn(server, advertised, f"{name}: {server} is not advertised")

    def test_the_sluice_service_matches_the_image(self):
        build = self.sluice["build"]
        context = os.path.normpath(os.path.join(DOCKER, build["context"]))
        self.assertEqual(context, REPO)
        self.assertTrue(os.path.isfile(os.path.join(context, build["dockerfile"])))

        entry = exec_form(self.last("ENTRYPOINT")) + exec_form(self.last("CMD"))
        self.assertEqual(entry[:2], ["/usr/bin/sluice", "run"])
        connector_dir = entry[2]
        state_dir = exec_form(self.last("VOLUME"))[0]
        self.assertEqual(self.last("WORKDIR"), state_dir, "default offsets files land in the volume")
        mounts = {v.split(":")[1]: v.split(":")[0] for v in self.sluice["volumes"]}
        self.assertIn(connector_dir, mounts, "the connector directory is mounted")
        self.assertEqual(os.path.normpath(os.path.join(DOCKER, mounts[connector_dir])),
                         os.path.join(DOCKER, "connectors"))
        self.assertIn(state_dir, mounts, "the state directory is a volume")
        self.assertIn(mounts[state_dir], self.compose.get("volumes", {}))

        exposed = int(self.last("EXPOSE").split("/")[0])
        image_listen = dict(kv.split("=", 1) for kv in shlex.split(self.last("ENV")))
        self.assertEqual(port_of(image_listen["SLUICE_HTTP_LISTEN"]), exposed)
        listen = environment(self.sluice).get("SLUICE_HTTP_LISTEN",
                                              image_listen["SLUICE_HTTP_LISTEN"])
        self.assertEqual(port_of(listen), exposed, "the listener is on the exposed port")
        self.assertFalse(listen.startswith("127.") or listen.isdigit(),
                         "a loopback listener cannot be published")
        self.assertIn(exposed, container_ports(self.sluice), "the HTTP port is published")

        self.assertIs(self.sluice.get("read_only"), True)
        grace = self.sluice.get("stop_grace_period", "10s")
        self.assertGreaterEqual(int(re.match(r"(\d+)s$", grace).group(1)), 35,
                                "sluice may take 30 s to flush on SIGTERM")
        healthcheck = exec_form(re.sub(r"^.*?CMD\s+", "", self.last("HEALTHCHECK")))
        self.assertEqual(healthcheck, ["/usr/bin/sluice", "health"])

    def test_connector_files_point_at_the_services(self):
        env = environment(self.sluice)
        state_dir = exec_form(self.last("VOLUME"))[0]
        names = set()
        for name, conn in self.connectors.items():
            host = conn["database.hostname"]
            self.assertIn(host, self.services, f"{name}: no service {host}")
            self.assertIn(int(conn["database.port"]), container_ports(self.services[host]),
                          f"{name}: {host} does not listen on {conn['database.port']}")
            for var in re.findall(r"\$\{(?:env:)?([A-Za-z_][A-Za-z0-9_]*)\}", json.dumps(conn)):
                self.assertIn(var, env, f"{name}: ${{{var}}} is not in sluice's environment")
            offsets = conn.get("offset.storage.file.filename", "")
            self.assertTrue(offsets.startswith(state_dir + "/"), f"{name}: offsets outside the volume")
            self.assertNotIn(conn["name"], names)
            names.add(conn["name"])
        self.assertTrue(any(n.endswith(".json") for n in self.connectors))

    def test_connector_files_pass_sluice_check(self):
        if not (SLUICE or os.environ.get("SLUICE_BINARY")):
            self.skipTest("needs --sluice")
        env = dict(os.environ)
        env.update(environment(self.sluice))
        r = subprocess.run([SLUICE or os.environ["SLUICE_BINARY"], "check",
                            os.path.join(DOCKER, "connectors")],
                           env=env, capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--sluice")
    known, rest = parser.parse_known_args()
    SLUICE = known.sluice
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)

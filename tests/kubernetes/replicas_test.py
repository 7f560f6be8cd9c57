#!/usr/bin/env python3
"""Several siteplane replicas against the real kube-apiserver, with the chart's own RBAC.

The chart's CRDs, ServiceAccount and RBAC are applied to the test cluster (scripts/test-cluster);
three `siteplane serve --source kubernetes` processes then run with that service account's token
(`kubectl create token`), so a verb missing from the chart fails here. The replicas share the
Bindings' ports through SO_REUSEPORT, as pods behind one Service would; each one's /metrics says
how many handshakes it answered, so "every replica serves" is checked per replica.

    replicas_test.py --source-dir DIR --cluster DIR --binary PATH

Steps: objects applied with kubectl are served by every replica with one certificate (one
thumbprint) and one Secret, status and an Issued Event written once; kill -9 of the leader hands
the Lease to another replica, which issues a new Certificate that every survivor serves while the
first Secret stays as it was; kube-apiserver stopped for 20 s changes nothing that is served, and
a change made once it is back is served by all; a deleted Binding stops being served by all.
"""

import argparse
import base64
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

try:
    import yaml
except ImportError as missing:
    sys.exit("replicas_test: %s (apt-get install python3-yaml)" % missing)

RELEASE, RELEASE_NS = "e2e", "siteplane-e2e-system"
NS = "siteplane-e2e"
REPLICAS = 3
LEASE = "siteplane-e2e"
LEASE_SECONDS = 15


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def eventually(what, check, within=60.0, every=0.25):
    deadline = time.monotonic() + within
    last = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except Exception as error:  # noqa: BLE001 - what the check raised is the detail
            last = error
        time.sleep(every)
    raise AssertionError("%s: not within %.0f s (last: %s)" % (what, within, last))


class Cluster:
    def __init__(self, args):
        self.source = os.path.abspath(args.source_dir)
        self.dir = args.cluster
        self.tools = {}
        with open(os.path.join(self.dir, "env")) as env:
            for line in env:
                key, _, value = line.strip().partition("=")
                self.tools[key] = value
        self.env = dict(os.environ, KUBECONFIG=self.tools["KUBECONFIG"])
        self.work = tempfile.mkdtemp(prefix="siteplane-replicas-")
        for name in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"):
            self.env[name] = os.path.join(self.work, name.lower())

    def run(self, argv, stdin=None, check=True):
        done = subprocess.run(argv, input=stdin, capture_output=True, text=True, env=self.env,
                              timeout=120)
        if check and done.returncode != 0:
            raise AssertionError("%s failed (%d): %s" % (" ".join(argv[:4]), done.returncode,
                                                         (done.stderr or done.stdout).strip()))
        return done

    def kubectl(self, *args, stdin=None, check=True):
        return self.run([self.tools["KUBECTL"]] + list(args), stdin=stdin, check=check)

    def json(self, *args):
        return json.loads(self.kubectl(*args, "-o", "json").stdout)

    def apply(self, objects):
        self.kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all(objects))

    def script(self, *args):
        subprocess.run([os.path.join(self.source, "scripts", "test-cluster")] + list(args),
                       check=True, env=self.env, timeout=600)


def chart_rbac(cluster):
    """The chart's ServiceAccount and RBAC for one watched namespace, as helm renders them."""
    rendered = cluster.run([cluster.tools["HELM"], "template", RELEASE,
                            os.path.join(cluster.source, "charts", "siteplane"),
                            "--namespace", RELEASE_NS, "--set", "watchNamespaces={%s}" % NS,
                            "--set", "leaderElection.leaseName=" + LEASE]).stdout
    wanted = {"ServiceAccount", "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"}
    objects = [o for o in yaml.safe_load_all(rendered) if o and o["kind"] in wanted]
    accounts = [o["metadata"]["name"] for o in objects if o["kind"] == "ServiceAccount"]
    assert len(accounts) == 1, "the chart renders %d ServiceAccounts" % len(accounts)
    return objects, accounts[0]


def service_account_kubeconfig(cluster, account):
    token = cluster.kubectl("create", "token", account, "-n", RELEASE_NS,
                            "--duration", "2h").stdout.strip()
    admin = cluster.json("config", "view", "--raw", "--minify")
    server = admin["clusters"][0]["cluster"]
    path = os.path.join(cluster.work, "replica.kubeconfig")
    config = {"apiVersion": "v1", "kind": "Config", "current-context": "sa",
              "clusters": [{"name": "test", "cluster": server}],
              "users": [{"name": "sa", "user": {"token": token}}],
              "contexts": [{"name": "sa", "context": {"cluster": "test", "user": "sa",
                                                      "namespace": RELEASE_NS}}]}
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as out:
        json.dump(config, out)
    return path


class Replica:
    def __init__(self, cluster, binary, kubeconfig, index, root):
        self.name = "replica-%d" % index
        self.health = free_port()
        self.log = open(os.path.join(cluster.work, self.name + ".log"), "w")
        argv = [binary, "serve", "--source", "kubernetes", "--kubeconfig", kubeconfig,
                "--namespace", NS, "--lease-name", LEASE, "--lease-namespace", RELEASE_NS,
                "--health-listen", "127.0.0.1:%d" % self.health, "--workers", "1",
                "--drain-seconds", "0", "--import-root", root, "--log-level", "debug",
                "--state", os.path.join(cluster.work, self.name + "-state")]
        self.process = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT,
                                        env=dict(os.environ, POD_NAME=self.name))

    def get(self, path):
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (self.health, path),
                                    timeout=5) as answer:
            return answer.read().decode()

    def ready(self):
        try:
            return "readyz check passed" in self.get("/readyz?verbose")
        except OSError:
            return False

    def metric(self, name, labels=""):
        pattern = re.compile(r"^%s%s (\S+)$" % (re.escape(name), re.escape(labels)), re.M)
        found = pattern.search(self.get("/metrics"))
        return float(found.group(1)) if found else None

    def handshakes(self):
        return self.metric("siteplane_tls_handshakes_total") or 0.0

    def alive(self):
        return self.process.poll() is None

    def kill(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self):
        if self.alive():
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


def thumbprint(port, host):
    """The SHA-1 thumbprint of the certificate served for `host` on 127.0.0.1:port, or None."""
    hello = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port,
                            "-servername", host], input="", capture_output=True, text=True,
                           timeout=20)
    pem = re.search(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", hello.stdout,
                    re.S)
    if not pem:
        return None
    digest = subprocess.run(["openssl", "x509", "-noout", "-fingerprint", "-sha1"],
                            input=pem.group(0), capture_output=True, text=True, check=True)
    return digest.stdout.strip().split("=", 1)[1].replace(":", "")


def served_by_all(replicas, port, host, expected, tries=60, each=True):
    """`tries` handshakes all get `expected`, and (each) every live replica answered some."""
    live = [r for r in replicas if r.alive()]
    before = {r.name: r.handshakes() for r in live}
    for _ in range(tries):
        got = thumbprint(port, host)
        assert got == expected, "%s:%d served %s, expected %s" % (host, port, got, expected)
    for replica in live if each else []:
        after = replica.handshakes()
        assert after > before[replica.name], \
            "%s answered none of %d handshakes for %s" % (replica.name, tries, host)


def refused_by_all(port, tries=30):
    for _ in range(tries):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2):
                return False
        except OSError:
            pass
    return True


def objects(host, port, name, root):
    return [
        {"apiVersion": "siteplane.io/v1alpha1", "kind": "Issuer",
         "metadata": {"name": "selfsigned", "namespace": NS}, "spec": {"selfSigned": {}}},
        {"apiVersion": "siteplane.io/v1alpha1", "kind": "Site",
         "metadata": {"name": name, "namespace": NS}, "spec": {"root": root}},
        {"apiVersion": "siteplane.io/v1alpha1", "kind": "Certificate",
         "metadata": {"name": name, "namespace": NS},
         "spec": {"dnsNames": [host], "issuerRef": {"name": "selfsigned"}}},
        {"apiVersion": "siteplane.io/v1alpha1", "kind": "Binding",
         "metadata": {"name": name, "namespace": NS},
         "spec": {"siteRef": {"name": name}, "protocol": "https", "address": "127.0.0.1",
                  "port": port, "hostName": host, "certificateRef": {"name": name}}},
    ]


def condition(obj, kind):
    for c in obj.get("status", {}).get("conditions", []):
        if c["type"] == kind:
            return c
    return {}


def programmed(cluster, name):
    binding = cluster.json("get", "bindings.siteplane.io", name, "-n", NS)
    return condition(binding, "Programmed").get("status") == "True"


def leader(cluster):
    lease = cluster.json("get", "lease", LEASE, "-n", RELEASE_NS)
    return lease["spec"].get("holderIdentity", "")


def events_for(cluster, name, reason):
    listed = cluster.json("get", "events", "-n", NS,
                          "--field-selector", "involvedObject.name=" + name)
    return [e for e in listed["items"] if e.get("reason") == reason]


def secret_data(cluster, name):
    return cluster.json("get", "secret", name, "-n", NS)["data"]


def status_managers(cluster, kind, name):
    obj = cluster.json("get", kind, name, "-n", NS, "--show-managed-fields")
    return sorted({(f["manager"], f["operation"]) for f in obj["metadata"].get("managedFields", [])
                   if f.get("subresource") == "status"})


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--source-dir", required=True)
    parser.add_argument("--cluster", required=True)
    parser.add_argument("--binary", required=True)
    args = parser.parse_args()
    cluster = Cluster(args)
    root = os.path.join(cluster.work, "www")
    os.makedirs(root)
    with open(os.path.join(root, "index.html"), "w") as page:
        page.write("replicas\n")

    for ns in (NS, RELEASE_NS):
        cluster.kubectl("create", "namespace", ns, check=False)
    cluster.kubectl("apply", "--server-side", "-f", os.path.join(cluster.source, "crds"))
    rbac, account = chart_rbac(cluster)
    cluster.apply(rbac)
    kubeconfig = service_account_kubeconfig(cluster, account)

    replicas = [Replica(cluster, args.binary, kubeconfig, i, root) for i in range(REPLICAS)]
    try:
        run(cluster, replicas, root)
    except BaseException:
        for replica in replicas:
            replica.stop()
            replica.log.flush()
            print("---- %s log (last 40 lines) ----" % replica.name)
            with open(replica.log.name) as log:
                print("".join(log.readlines()[-40:]))
        raise
    for replica in replicas:
        replica.stop()
    print("replicas_test: ok")


def run(cluster, replicas, root):
    eventually("every replica ready", lambda: all(r.ready() for r in replicas), within=90)
    holder = eventually("a leader", lambda: leader(cluster), within=LEASE_SECONDS * 2)
    assert holder in {r.name for r in replicas}, "the Lease holder is %r" % holder
    print("leader:", holder)

    # 1. Applied objects: one certificate, served by all; Secret, status and Event written once.
    port_a, port_b = free_port(), free_port()
    cluster.apply(objects("a.e2e.test", port_a, "site-a", root))
    eventually("binding site-a Programmed", lambda: programmed(cluster, "site-a"), within=90)
    certificate = cluster.json("get", "certificates.siteplane.io", "site-a", "-n", NS)
    first = certificate["status"]["thumbprint"]
    eventually("every replica serves site-a",
               lambda: all(r.metric("siteplane_table_bindings") == 1 for r in replicas))
    served_by_all(replicas, port_a, "a.e2e.test", first)
    secret = cluster.json("get", "secret", "site-a-tls", "-n", NS)
    assert secret["type"] == "kubernetes.io/tls", secret["type"]
    owners = secret["metadata"].get("ownerReferences", [])
    assert [o["kind"] + "/" + o["name"] for o in owners] == ["Certificate/site-a"], owners
    assert owners[0]["uid"] == certificate["metadata"]["uid"], "owner uid differs"
    assert status_managers(cluster, "certificates.siteplane.io", "site-a") == [("siteplane", "Apply")], \
        status_managers(cluster, "certificates.siteplane.io", "site-a")
    issued = eventually("one Issued Event", lambda: events_for(cluster, "site-a", "Issued"))
    assert len(issued) == 1 and issued[0].get("count", 1) == 1, issued
    secret_before = secret_data(cluster, "site-a-tls")

    # An existing TLS Secret, made with kubectl, imported by a Certificate and served by all.
    port_s = free_port()
    cert, key = os.path.join(cluster.work, "corp.crt"), os.path.join(cluster.work, "corp.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=s.e2e.test", "-addext",
                    "subjectAltName=DNS:s.e2e.test", "-days", "2", "-keyout", key, "-out", cert],
                   check=True, capture_output=True)
    cluster.kubectl("create", "secret", "tls", "corp-cert", "-n", NS, "--cert", cert, "--key", key)
    corp = objects("s.e2e.test", port_s, "site-s", root)[1:]
    corp[1]["spec"] = {"source": {"secretName": "corp-cert"}}
    cluster.apply(corp)
    eventually("binding site-s Programmed", lambda: programmed(cluster, "site-s"), within=90)
    fingerprint = subprocess.run(["openssl", "x509", "-noout", "-fingerprint", "-sha1", "-in",
                                  cert], capture_output=True, text=True, check=True).stdout
    imported = fingerprint.strip().split("=", 1)[1].replace(":", "")
    eventually("every replica serves site-s",
               lambda: all(r.metric("siteplane_table_bindings") == 2 for r in replicas))
    served_by_all(replicas, port_s, "s.e2e.test", imported)
    copied = cluster.json("get", "secret", "site-s-tls", "-n", NS)
    assert copied["metadata"]["labels"]["siteplane.io/certificate"] == "site-s", copied["metadata"]
    cluster.kubectl("delete", "bindings.siteplane.io", "site-s", "-n", NS)
    eventually("every replica drops site-s",
               lambda: all(r.metric("siteplane_table_bindings") == 1 for r in replicas))

    # 2. kill -9 the leader: another takes the Lease within its duration and goes on.
    dead = next(r for r in replicas if r.name == holder)
    dead.kill()
    killed_at = time.monotonic()
    successor = eventually("a new leader", lambda: (leader(cluster) not in ("", holder)) and
                           leader(cluster), within=LEASE_SECONDS + 10)
    print("new leader after %.1f s: %s" % (time.monotonic() - killed_at, successor))
    cluster.apply(objects("b.e2e.test", port_b, "site-b", root)[1:])
    eventually("binding site-b Programmed", lambda: programmed(cluster, "site-b"), within=90)
    second = cluster.json("get", "certificates.siteplane.io", "site-b", "-n", NS)["status"]["thumbprint"]
    eventually("every survivor serves site-b",
               lambda: all(r.metric("siteplane_table_bindings") == 2
                           for r in replicas if r.alive()))
    served_by_all(replicas, port_b, "b.e2e.test", second)
    served_by_all(replicas, port_a, "a.e2e.test", first)
    assert secret_data(cluster, "site-a-tls") == secret_before, "site-a was issued again"
    assert len(events_for(cluster, "site-a", "Issued")) == 1, "a second Issued Event for site-a"

    # 3. kube-apiserver away for 20 s: every replica keeps serving, then follows again.
    cluster.script("stop-apiserver", cluster.dir)
    stopped = time.monotonic()
    while time.monotonic() - stopped < 20:
        served_by_all(replicas, port_a, "a.e2e.test", first, tries=6, each=False)
        time.sleep(1)
    served_by_all(replicas, port_a, "a.e2e.test", first)
    served_by_all(replicas, port_b, "b.e2e.test", second)
    cluster.script("start", cluster.dir)
    port_c = free_port()
    cluster.apply(objects("c.e2e.test", port_c, "site-c", root)[1:])
    eventually("binding site-c Programmed", lambda: programmed(cluster, "site-c"), within=120)
    third = cluster.json("get", "certificates.siteplane.io", "site-c", "-n", NS)["status"]["thumbprint"]
    eventually("every survivor serves site-c after the outage",
               lambda: all(r.metric("siteplane_table_bindings") == 3
                           for r in replicas if r.alive()), within=90)
    served_by_all(replicas, port_c, "c.e2e.test", third)

    # 4. A deleted Binding stops being served by every replica.
    cluster.kubectl("delete", "bindings.siteplane.io", "site-b", "-n", NS)
    eventually("every survivor drops site-b",
               lambda: all(r.metric("siteplane_table_bindings") == 2
                           for r in replicas if r.alive()))
    assert eventually("site-b refused", lambda: refused_by_all(port_b), within=30)
    served_by_all(replicas, port_a, "a.e2e.test", first)

    for replica in replicas:
        if replica.alive():
            assert replica.alive(), "%s ended" % replica.name
    leader_metrics = [r.metric("siteplane_leader") for r in replicas if r.alive()]
    assert sorted(leader_metrics) == [0.0, 1.0], "siteplane_leader per replica: %s" % leader_metrics


if __name__ == "__main__":
    main()

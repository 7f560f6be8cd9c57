#!/usr/bin/env python3
"""Checks charts/siteplane with the real helm, and against the real kube-apiserver.

    check_chart.py crds      the chart's crds/ holds exactly the files of the top-level crds/
    check_chart.py lint      `helm lint --strict` passes with the default and the non-default values
    check_chart.py render    `helm template` with both renders what the values say (workload kind,
                             RBAC scope, security context, probes, optional objects), and the
                             metrics the alerts and the dashboard use are ones the README documents
    check_chart.py schema    values.schema.json refuses values the chart cannot honour
    check_chart.py dry-run   both renderings pass `kubectl apply --dry-run=server` against the
                             test cluster (scripts/test-cluster), with the chart's CRDs installed

Options: --source-dir (repository root), --cluster DIR (what `scripts/test-cluster start DIR`
wrote: env with KUBECONFIG, KUBECTL, HELM). Exit 0 when the check passes, 1 with one line per
problem when it fails.
"""

import argparse
import filecmp
import json
import os
import re
import subprocess
import sys
import tempfile

try:
    import yaml
except ImportError as missing:  # the Debian package python3-yaml
    sys.exit("check_chart: %s (apt-get install python3-yaml)" % missing)

HERE = os.path.dirname(os.path.abspath(__file__))
NONDEFAULT = os.path.join(HERE, "values-nondefault.yaml")
RELEASE, NAMESPACE = "edge", "siteplane-system"


class Check:
    def __init__(self, args):
        self.source = os.path.abspath(args.source_dir)
        self.chart = os.path.join(self.source, "charts", "siteplane")
        self.cluster = args.cluster
        self.env = dict(os.environ)
        self.tools = {}
        if self.cluster:
            with open(os.path.join(self.cluster, "env")) as env:
                for line in env:
                    key, _, value = line.strip().partition("=")
                    self.tools[key] = value
            self.env["KUBECONFIG"] = self.tools["KUBECONFIG"]
        # helm keeps caches and repositories here, not in the user's home.
        self.helm_home = tempfile.mkdtemp(prefix="siteplane-helm-")
        for name in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"):
            self.env[name] = os.path.join(self.helm_home, name.lower())
        self.problems = []

    def problem(self, text):
        self.problems.append(text)

    def run(self, argv, stdin=None, expect_ok=True):
        done = subprocess.run(argv, input=stdin, capture_output=True, text=True, env=self.env,
                              timeout=120)
        if expect_ok and done.returncode != 0:
            self.problem("%s failed (%d): %s" % (" ".join(argv[:3]), done.returncode,
                                                 (done.stderr or done.stdout).strip()))
        return done

    def helm(self, *args, expect_ok=True):
        return self.run([self.tools["HELM"]] + list(args), expect_ok=expect_ok)

    def kubectl(self, *args, stdin=None, expect_ok=True):
        return self.run([self.tools["KUBECTL"]] + list(args), stdin=stdin, expect_ok=expect_ok)

    def template(self, values=None):
        argv = ["template", RELEASE, self.chart, "--namespace", NAMESPACE, "--kube-version",
                "1.34.4"] + (["--values", values] if values else [])
        return self.helm(*argv)

    def rendered(self, values=None):
        done = self.template(values)
        return [doc for doc in yaml.safe_load_all(done.stdout) if doc] if done.returncode == 0 \
            else []


def kinds(objects, kind):
    return [o for o in objects if o["kind"] == kind]


def check_crds(check):
    top = os.path.join(check.source, "crds")
    chart = os.path.join(check.chart, "crds")
    yamls = lambda d: sorted(f for f in os.listdir(d) if f.endswith(".yaml"))
    if yamls(top) != yamls(chart):
        check.problem("charts/siteplane/crds has %s, crds/ has %s" % (yamls(chart), yamls(top)))
    for name in sorted(set(yamls(top)) & set(yamls(chart))):
        if not filecmp.cmp(os.path.join(top, name), os.path.join(chart, name), shallow=False):
            check.problem("charts/siteplane/crds/%s differs from crds/%s: crds/ is the source; "
                          "copy it over (cp crds/*.yaml charts/siteplane/crds/)" % (name, name))


def check_lint(check):
    check.helm("lint", "--strict", check.chart)
    check.helm("lint", "--strict", check.chart, "--values", NONDEFAULT)


def container(workload):
    return workload["spec"]["template"]["spec"]["containers"][0]


def check_workload(check, objects, expect_kind, values_name, health_port=8081):
    workloads = kinds(objects, expect_kind)
    if len(workloads) != 1:
        check.problem("%s: expected one %s, got %d" % (values_name, expect_kind, len(workloads)))
        return
    pod = workloads[0]["spec"]["template"]["spec"]
    c = container(workloads[0])
    args = c["args"]
    for wanted in ("serve", "--source=kubernetes", "--health-listen=:%d" % health_port):
        if wanted not in args:
            check.problem("%s: container args lack %s: %s" % (values_name, wanted, args))
    security = c["securityContext"]
    if security.get("readOnlyRootFilesystem") is not True:
        check.problem("%s: the root filesystem is not read-only" % values_name)
    if security.get("allowPrivilegeEscalation") is not False:
        check.problem("%s: privilege escalation is not off" % values_name)
    if security.get("capabilities") != {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}:
        check.problem("%s: capabilities are %s" % (values_name, security.get("capabilities")))
    if pod["securityContext"].get("runAsNonRoot") is not True:
        check.problem("%s: the pod may run as root" % values_name)
    if pod["securityContext"].get("seccompProfile") != {"type": "RuntimeDefault"}:
        check.problem("%s: seccomp is not RuntimeDefault" % values_name)
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        got = c.get(probe, {}).get("httpGet", {})
        if got != {"path": path, "port": "health"}:
            check.problem("%s: %s is %s, not %s on the health port" % (values_name, probe, got,
                                                                        path))
    env = {e["name"]: e.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath")
           for e in c.get("env", [])}
    if env.get("POD_NAME") != "metadata.name":
        check.problem("%s: POD_NAME (the Lease holder identity) is not from the downward API"
                      % values_name)
    return pod, args


def check_render(check):
    documented = set(re.findall(r"`(siteplane_[a-z_]+|process_[a-z_]+)`",
                                open(os.path.join(check.source, "README.md")).read()))
    # Defaults: a Deployment watching every namespace, so one ClusterRole.
    objects = check.rendered()
    result = check_workload(check, objects, "Deployment", "defaults")
    if result:
        pod, args = result
        if any(a.startswith("--namespace=") for a in args):
            check.problem("defaults: --namespace given although watchNamespaces is empty")
        if pod.get("hostNetwork"):
            check.problem("defaults: hostNetwork is on")
        if "sysctls" in pod["securityContext"]:
            check.problem("defaults: a sysctl is set although no port is below 1024")
    if len(kinds(objects, "ClusterRole")) != 1 or kinds(objects, "Role") == []:
        check.problem("defaults: expected one ClusterRole and the leader-election Role, got %s"
                      % sorted(o["kind"] + "/" + o["metadata"]["name"] for o in objects))
    for absent in ("ServiceMonitor", "PrometheusRule", "ConfigMap"):
        if kinds(objects, absent):
            check.problem("defaults: %s rendered although it is off by default" % absent)
    if len(kinds(objects, "PodDisruptionBudget")) != 1:
        check.problem("defaults: no PodDisruptionBudget for 2 replicas")

    # Non-default: a DaemonSet on the host network, two namespaces, everything optional on.
    values = yaml.safe_load(open(NONDEFAULT))
    objects = check.rendered(NONDEFAULT)
    result = check_workload(check, objects, "DaemonSet", "non-default", values["health"]["port"])
    if result:
        pod, args = result
        namespaces = sorted(a.split("=", 1)[1] for a in args if a.startswith("--namespace="))
        if namespaces != sorted(values["watchNamespaces"]):
            check.problem("non-default: --namespace flags %s, values %s" %
                          (namespaces, values["watchNamespaces"]))
        if pod.get("hostNetwork") is not True or pod.get("dnsPolicy") != "ClusterFirstWithHostNet":
            check.problem("non-default: hostNetwork or its dnsPolicy missing")
    if kinds(objects, "ClusterRole") or kinds(objects, "ClusterRoleBinding"):
        check.problem("non-default: a cluster-wide role although namespaces are listed")
    role_namespaces = sorted(o["metadata"]["namespace"] for o in kinds(objects, "Role")
                             if not o["metadata"]["name"].endswith("-leader-election"))
    if role_namespaces != sorted(values["watchNamespaces"]):
        check.problem("non-default: Roles in %s, watched namespaces %s" %
                      (role_namespaces, values["watchNamespaces"]))
    lease_roles = [o for o in kinds(objects, "Role")
                   if o["metadata"]["name"].endswith("-leader-election")]
    if [o["metadata"]["namespace"] for o in lease_roles] != [NAMESPACE]:
        check.problem("non-default: the leader-election Role is not in the release namespace")
    services = {o["metadata"]["name"]: o for o in kinds(objects, "Service")}
    data = services.get("%s-siteplane" % RELEASE)
    if not data or data["spec"]["type"] != values["service"]["type"]:
        check.problem("non-default: the data-plane Service is not of type %s" %
                      values["service"]["type"])
    used = set()
    for rule in kinds(objects, "PrometheusRule"):
        for group in rule["spec"]["groups"]:
            for alert in group["rules"]:
                used |= set(re.findall(r"\b(siteplane_[a-z_]+?)(?:_bucket)?\b", alert["expr"]))
    if not used:
        check.problem("non-default: no PrometheusRule alerts rendered")
    dashboards = kinds(objects, "ConfigMap")
    if len(dashboards) != 1:
        check.problem("non-default: expected the dashboard ConfigMap, got %d" % len(dashboards))
    else:
        dashboard = json.loads(dashboards[0]["data"]["siteplane.json"])
        for panel in dashboard["panels"]:
            for target in panel["targets"]:
                used |= set(re.findall(r"\b((?:siteplane|process)_[a-z_]+?)(?:_bucket)?\b",
                                       target["expr"]))
    if not kinds(objects, "ServiceMonitor"):
        check.problem("non-default: no ServiceMonitor rendered")
    for metric in sorted(used - documented):
        check.problem("an alert or dashboard panel uses %s, which the README does not document"
                      % metric)


def check_schema(check):
    for bad in ("kind=StatefulSet", "replicas=0", "noSuchValue=1", "logFormat=xml",
                "watchNamespaces[0]=Not_A_Namespace", "ports[0].containerPort=70000"):
        done = check.helm("template", RELEASE, check.chart, "--set", bad, expect_ok=False)
        if done.returncode == 0:
            check.problem("values.schema.json accepts --set %s" % bad)
        elif "schema" not in done.stderr.lower() and "values don't meet" not in done.stderr:
            check.problem("--set %s refused for another reason: %s" % (bad, done.stderr.strip()))


def check_dry_run(check):
    if not check.cluster:
        check.problem("dry-run needs --cluster DIR")
        return
    check.kubectl("apply", "--server-side", "-f", os.path.join(check.chart, "crds"))
    check.kubectl("wait", "--for=condition=Established", "--timeout=60s",
                  "crd/sites.siteplane.io", "crd/bindings.siteplane.io",
                  "crd/certificates.siteplane.io", "crd/issuers.siteplane.io")
    # The Prometheus Operator's kinds, as bare CRDs: only so that the optional objects have a type
    # to be checked against; their schemas are the operator's, not ours.
    check.kubectl("apply", "--server-side", "-f", os.path.join(HERE, "monitoring-crds.yaml"))
    check.kubectl("wait", "--for=condition=Established", "--timeout=60s",
                  "crd/servicemonitors.monitoring.coreos.com",
                  "crd/prometheusrules.monitoring.coreos.com")
    values = yaml.safe_load(open(NONDEFAULT))
    for namespace in [NAMESPACE] + values["watchNamespaces"]:
        manifest = json.dumps({"apiVersion": "v1", "kind": "Namespace",
                               "metadata": {"name": namespace}})
        check.kubectl("apply", "-f", "-", stdin=manifest)
    for values_file in (None, NONDEFAULT):
        rendered = check.template(values_file).stdout
        done = check.kubectl("apply", "--dry-run=server", "-f", "-", stdin=rendered,
                             expect_ok=False)
        if done.returncode != 0:
            check.problem("kubectl apply --dry-run=server of the %s rendering: %s" %
                          ("non-default" if values_file else "default", done.stderr.strip()))


CHECKS = {"crds": check_crds, "lint": check_lint, "render": check_render, "schema": check_schema,
          "dry-run": check_dry_run}


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("check", choices=sorted(CHECKS))
    parser.add_argument("--source-dir", default=os.environ.get("SITEPLANE_SOURCE_DIR", "."))
    parser.add_argument("--cluster", help="directory of a running scripts/test-cluster")
    args = parser.parse_args()
    check = Check(args)
    if args.check != "crds" and "HELM" not in check.tools:
        sys.exit("check_chart: %s needs helm: pass --cluster DIR of scripts/test-cluster" %
                 args.check)
    CHECKS[args.check](check)
    for problem in check.problems:
        print("check_chart %s: %s" % (args.check, problem))
    return 1 if check.problems else 0


if __name__ == "__main__":
    sys.exit(main())

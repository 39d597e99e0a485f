#!/usr/bin/python3
"""manifests.render: manifests/ renders with `kubectl kustomize` and hangs
together: every object has the fields the API requires, the DaemonSet runs as
a ServiceAccount that exists, is bound to a ClusterRole that can list and
watch everything the agent reads, and the CRD's kind matches the RBAC rules.
Exit 77 (skip) when kubectl is missing."""
import shutil
import subprocess
import sys

import yaml

top = sys.argv[1]
kubectl = shutil.which("kubectl")
if not kubectl:
    print("manifests: kubectl is not installed, skipping")
    sys.exit(77)
out = subprocess.run([kubectl, "kustomize", top + "/manifests"], check=True,
                     capture_output=True, text=True).stdout
docs = [d for d in yaml.safe_load_all(out) if d]
errors = []
by_kind = {}
for d in docs:
    for f in ("apiVersion", "kind", "metadata"):
        if f not in d:
            errors.append(f"object without {f}: {d}")
    by_kind.setdefault(d["kind"], []).append(d)

def need(kind, n=1):
    if len(by_kind.get(kind, [])) != n:
        errors.append(f"expected {n} {kind}, found {len(by_kind.get(kind, []))}")
        return None
    return by_kind[kind][0]

ds = need("DaemonSet")
sa = need("ServiceAccount")
role = need("ClusterRole")
binding = need("ClusterRoleBinding")
crd = need("CustomResourceDefinition")
need("Namespace")
if ds and sa:
    spec = ds["spec"]["template"]["spec"]
    if spec.get("serviceAccountName") != sa["metadata"]["name"]:
        errors.append("DaemonSet does not run as the ServiceAccount")
    if ds["spec"]["selector"]["matchLabels"].items() - ds["spec"]["template"]["metadata"]["labels"].items():
        errors.append("DaemonSet selector does not match its template labels")
    caps = spec["containers"][0]["securityContext"]["capabilities"]["add"]
    for c in ("NET_ADMIN", "NET_RAW"):
        if c not in caps:
            errors.append(f"agent lacks capability {c}")
    if not spec.get("hostNetwork"):
        errors.append("agent must run in the host network namespace")
if role and binding and sa:
    if binding["roleRef"]["name"] != role["metadata"]["name"]:
        errors.append("ClusterRoleBinding refers to another role")
    subj = binding["subjects"][0]
    if (subj["name"], subj["namespace"]) != (sa["metadata"]["name"], sa["metadata"]["namespace"]):
        errors.append("ClusterRoleBinding binds another subject")
    granted = set()
    for rule in role["rules"]:
        for g in rule["apiGroups"]:
            for r in rule["resources"]:
                for v in rule["verbs"]:
                    granted.add((g, r, v))
    for g, r in (("", "pods"), ("", "namespaces"), ("", "nodes"),
                 ("networking.k8s.io", "networkpolicies")):
        for v in ("list", "watch"):
            if (g, r, v) not in granted:
                errors.append(f"ClusterRole cannot {v} {r}")
    if crd:
        plural = crd["spec"]["names"]["plural"]
        if (crd["spec"]["group"], plural, "watch") not in granted:
            errors.append(f"ClusterRole cannot watch {plural}")
for e in errors:
    print("manifests:", e)
print(f"manifests: {len(docs)} objects, {len(errors)} problems")
sys.exit(1 if errors else 0)

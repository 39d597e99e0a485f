#!/usr/bin/python3
"""style.manifests_broken: scripts/check-manifests.py catches broken
manifests.  Each case copies manifests/ and examples/cluster/ into a
temporary directory, breaks one thing, and wants the check to fail naming
it.  Exit 77 (skip) when kubectl is missing.
Usage: test_manifests.py TOP"""
import os
import shutil
import subprocess
import sys
import tempfile

top = sys.argv[1]
if not shutil.which("kubectl"):
    print("SKIP: kubectl is not installed")
    sys.exit(77)
check = os.path.join(top, "scripts/check-manifests.py")

# (file, text, replacement, what the check must say)
CASES = [
    ("daemonset.yaml", "readinessProbe:", "readynessProbe:", "'readynessProbe' was unexpected"),
    ("daemonset.yaml", "containerPort: 9464", "containerPort: 9464.5", "is not of type 'integer'"),
    ("daemonset.yaml", "add: [\"NET_ADMIN\", \"NET_RAW\"]",
     "add: [\"NET_ADMIN\", \"NET_RAW\", \"SYS_ADMIN\"]", "want exactly NET_ADMIN, NET_RAW"),
    ("daemonset.yaml", "drop: [\"ALL\"]", "drop: [\"MKNOD\"]", "does not drop ALL"),
    ("daemonset.yaml", "readOnlyRootFilesystem: true", "readOnlyRootFilesystem: false",
     "root filesystem is not read-only"),
    ("daemonset.yaml", "allowPrivilegeEscalation: false", "allowPrivilegeEscalation: true",
     "allows privilege escalation"),
    ("daemonset.yaml", "            - --cluster\n", "", "does not run with --cluster"),
    ("daemonset.yaml", "fieldPath: metadata.namespace", "fieldPath: metadata.name",
     "POD_NAMESPACE"),
    ("daemonset.yaml", "        - operator: Exists", "        - operator: Exists\n          key: a",
     "does not tolerate every taint"),
    ("daemonset.yaml", "type: DirectoryOrCreate", "type: 7", "7 is not of type 'string'"),
    ("rbac.yaml", "resources: [\"pods\", \"namespaces\", \"nodes\"]",
     "resources: [\"pods\", \"namespaces\", \"nodes\", \"secrets\"]", "grants secrets"),
    ("rbac.yaml", "verbs: [\"get\", \"list\", \"watch\", \"create\", \"update\", \"patch\", \"delete\"]",
     "verbs: [\"get\", \"list\", \"watch\", \"create\", \"update\", \"patch\"]", "cannot delete proposals"),
    ("rbac.yaml", "    resources: [\"policymodes\"]\n    verbs: [\"get\", \"list\", \"watch\", \"create\", \"update\", \"patch\"]",
     "    resources: [\"policymodes\"]\n    verbs: [\"get\", \"list\", \"watch\", \"create\", \"update\", \"patch\", \"delete\"]",
     "grants delete policymodes"),
    ("rbac.yaml", "    resourceNames: [\"bulkhead-proposer\"]\n", "",
     "leases other than bulkhead-proposer"),
    ("rbac.yaml", "  - kind: ServiceAccount\n    name: bulkhead-agent\n    namespace: bulkhead-system\n---\n# The proposer",
     "  - kind: ServiceAccount\n    name: default\n    namespace: bulkhead-system\n---\n# The proposer",
     "ClusterRoleBinding binds another subject"),
    ("rbac.yaml", "roleRef:", "roleReference:", "'roleRef' is a required property"),
    ("crd-nodeflows.yaml", "ip: {type: string, maxLength: 64}", "ip: {maxLength: 64}",
     "has no type (not structural)"),
    ("crd-nodeflows.yaml", "jsonPath: .status.truncated", "jsonPath: .status.truncatedd",
     "the schema lacks"),
    ("crd-nodeflows.yaml", "      additionalPrinterColumns:",
     "      subresources:\n        status: {}\n      additionalPrinterColumns:",
     "status subresource on"),
    ("crd-proposal.yaml", "scope: Namespaced", "scope: Cluster", "scope Cluster, want Namespaced"),
    ("crd-policymode.yaml", "additionalPrinterColumns:", "additionalPrinterColumn:",
     "'additionalPrinterColumn' was unexpected"),
    ("crd-policymode.yaml", "enum: [learn, preview, enforce]", "enum: [learn, preview]",
     "'enforce' is not one of"),
    ("ex:nodeflows.yaml", "      seen_by: [conntrack]", "      seenBy: [conntrack]",
     "'seenBy' was unexpected"),
    ("ex:proposal.yaml", "port: 8080}", "port: 8080, endport: 8081}", "'endport' was unexpected"),
    ("ex:policymode.yaml", "switchedAt: \"2026-12-04T10:05:00.123Z\"", "switchedAt: \"yesterday\"",
     "is not a 'date-time'"),
    ("kustomization.yaml", "  - crd-proposal.yaml\n", "", "no CRD for Proposal"),
]

failed = 0
with tempfile.TemporaryDirectory(prefix="bh-manifests.") as tmp:
    for i, (fname, old, new, want) in enumerate(CASES):
        m = os.path.join(tmp, "m%d" % i)
        ex = os.path.join(tmp, "e%d" % i)
        shutil.copytree(os.path.join(top, "manifests"), m)
        shutil.copytree(os.path.join(top, "examples/cluster"), ex)
        path = os.path.join(ex, fname[3:]) if fname.startswith("ex:") else os.path.join(m, fname)
        text = open(path).read()
        if old not in text:
            print("FAIL case %d: %r is not in %s (update the case)" % (i, old, fname))
            failed += 1
            continue
        open(path, "w").write(text.replace(old, new, 1))
        r = subprocess.run(["/usr/bin/python3", check, top, m, ex], capture_output=True, text=True)
        if r.returncode != 1 or want not in r.stdout:
            print("FAIL case %d (%s: %r -> %r): exit %d, want 1 and %r in:\n%s%s"
                  % (i, fname, old, new, r.returncode, want, r.stdout, r.stderr))
            failed += 1
        else:
            print("ok case %d: %s: caught (%s)" % (i, fname, want))
print("%d of %d broken manifests caught" % (len(CASES) - failed, len(CASES)))
sys.exit(1 if failed else 0)

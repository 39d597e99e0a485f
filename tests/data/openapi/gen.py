#!/usr/bin/python3
"""Writes the Kubernetes OpenAPI v3 documents of tests/data/openapi/.

Transcribed from kubernetes/kubernetes v1.32 api/openapi-spec/v3/*.json for
every kind manifests/ holds (v1 Namespace and ServiceAccount; rbac/v1
ClusterRole, ClusterRoleBinding, Role, RoleBinding; apps/v1 DaemonSet;
apiextensions/v1 CustomResourceDefinition) and every definition they
reference, each definition complete (every property of v1.32, its type,
format and required list) in upstream's form (properties referencing
others as allOf of one $ref; no enums: upstream's v3 text gives the valid
values of these string fields in descriptions only).  Checked against the
stored upstream text (a later release) of rbac/v1, PodSpec, PodSecurityContext,
Container, ContainerPort, Capabilities, the ConfigMap selectors and Volume:
the same, less the fields added after v1.32.
Left out: the descriptions, defaults, x-kubernetes-list-type and patch
strategy markers, the List kinds and the operations other than the PATCH
of each resource.  The PATCH operations carry
x-kubernetes-group-version-kind, as upstream's, but not the fieldValidation
query parameter: kubectl then validates on the client (as against an API
server without server-side field validation), which is what
integration.manifests_kubectl checks.  The volume sources that Bulkhead's
manifests do not use are placeholders (x-bulkhead-placeholders at the
root): tests/data/openapi/validate.py rejects any object that reaches one.

Run: python3 tests/data/openapi/gen.py (rewrites the JSON files beside it).
"""
import json
import os

SCHEMAS = "#/components/schemas/"
META = "io.k8s.apimachinery.pkg.apis.meta.v1."
CORE = "io.k8s.api.core.v1."
QTY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
IOS = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"

S = {"type": "string"}
B = {"type": "boolean"}
I32 = {"type": "integer", "format": "int32"}
I64 = {"type": "integer", "format": "int64"}
STRS = {"type": "array", "items": {"type": "string"}}
MAP = {"type": "object", "additionalProperties": {"type": "string"}}


def ref(name):
    return {"allOf": [{"$ref": SCHEMAS + name}]}


def arr(item):
    return {"type": "array", "items": item}


def obj(props, required=None, gvk=None):
    d = {"type": "object", "properties": props}
    if required:
        d["required"] = sorted(required)
    if gvk:
        d["x-kubernetes-group-version-kind"] = [
            {"group": gvk[0], "kind": gvk[2], "version": gvk[1]}]
    return d


def top(gvk, extra, required=None):
    props = {"apiVersion": S, "kind": S, "metadata": ref(META + "ObjectMeta")}
    props.update(extra)
    return obj(props, required, gvk)


# --- apimachinery ---
meta = {
    META + "Time": {"type": "string", "format": "date-time"},
    META + "FieldsV1": {"type": "object"},
    META + "ManagedFieldsEntry": obj({
        "apiVersion": S, "fieldsType": S, "fieldsV1": ref(META + "FieldsV1"),
        "manager": S, "operation": S, "subresource": S, "time": ref(META + "Time")}),
    META + "OwnerReference": obj({
        "apiVersion": S, "blockOwnerDeletion": B, "controller": B, "kind": S,
        "name": S, "uid": S}, ["apiVersion", "kind", "name", "uid"]),
    META + "ObjectMeta": obj({
        "annotations": MAP, "creationTimestamp": ref(META + "Time"),
        "deletionGracePeriodSeconds": I64, "deletionTimestamp": ref(META + "Time"),
        "finalizers": STRS, "generateName": S, "generation": I64, "labels": MAP,
        "managedFields": arr(ref(META + "ManagedFieldsEntry")), "name": S, "namespace": S,
        "ownerReferences": arr(ref(META + "OwnerReference")), "resourceVersion": S,
        "selfLink": S, "uid": S}),
    META + "LabelSelectorRequirement": obj({"key": S, "operator": S, "values": STRS},
                                           ["key", "operator"]),
    META + "LabelSelector": dict(obj({
        "matchExpressions": arr(ref(META + "LabelSelectorRequirement")), "matchLabels": MAP}),
        **{"x-kubernetes-map-type": "atomic"}),
}
quantity = {QTY: {"type": "string"}}
intorstring = {IOS: {"type": "string", "format": "int-or-string"}}

# --- core/v1: Namespace, ServiceAccount ---
core_objects = {
    CORE + "Namespace": top(("", "v1", "Namespace"), {
        "spec": ref(CORE + "NamespaceSpec"), "status": ref(CORE + "NamespaceStatus")}),
    CORE + "NamespaceSpec": obj({"finalizers": STRS}),
    CORE + "NamespaceStatus": obj({
        "conditions": arr(ref(CORE + "NamespaceCondition")), "phase": S}),
    CORE + "NamespaceCondition": obj({
        "lastTransitionTime": ref(META + "Time"), "message": S, "reason": S, "status": S,
        "type": S}, ["status", "type"]),
    CORE + "ServiceAccount": top(("", "v1", "ServiceAccount"), {
        "automountServiceAccountToken": B,
        "imagePullSecrets": arr(ref(CORE + "LocalObjectReference")),
        "secrets": arr(ref(CORE + "ObjectReference"))}),
    CORE + "LocalObjectReference": obj({"name": S}),
    CORE + "ObjectReference": obj({
        "apiVersion": S, "fieldPath": S, "kind": S, "name": S, "namespace": S,
        "resourceVersion": S, "uid": S}),
}

# --- core/v1: the pod template ---
container_props = {
    "args": STRS, "command": STRS, "env": arr(ref(CORE + "EnvVar")),
    "envFrom": arr(ref(CORE + "EnvFromSource")), "image": S,
    "imagePullPolicy": S,
    "lifecycle": ref(CORE + "Lifecycle"), "livenessProbe": ref(CORE + "Probe"), "name": S,
    "ports": arr(ref(CORE + "ContainerPort")), "readinessProbe": ref(CORE + "Probe"),
    "resizePolicy": arr(ref(CORE + "ContainerResizePolicy")),
    "resources": ref(CORE + "ResourceRequirements"), "restartPolicy": S,
    "securityContext": ref(CORE + "SecurityContext"), "startupProbe": ref(CORE + "Probe"),
    "stdin": B, "stdinOnce": B, "terminationMessagePath": S,
    "terminationMessagePolicy": S, "tty": B,
    "volumeDevices": arr(ref(CORE + "VolumeDevice")),
    "volumeMounts": arr(ref(CORE + "VolumeMount")), "workingDir": S,
}
selector_term = obj({
    "matchExpressions": arr(ref(CORE + "NodeSelectorRequirement")),
    "matchFields": arr(ref(CORE + "NodeSelectorRequirement"))})
selector_term["x-kubernetes-map-type"] = "atomic"
pod_affinity = obj({
    "preferredDuringSchedulingIgnoredDuringExecution": arr(ref(CORE + "WeightedPodAffinityTerm")),
    "requiredDuringSchedulingIgnoredDuringExecution": arr(ref(CORE + "PodAffinityTerm"))})
pod = {
    CORE + "PodTemplateSpec": obj({"metadata": ref(META + "ObjectMeta"),
                                   "spec": ref(CORE + "PodSpec")}),
    CORE + "PodSpec": obj({
        "activeDeadlineSeconds": I64, "affinity": ref(CORE + "Affinity"),
        "automountServiceAccountToken": B, "containers": arr(ref(CORE + "Container")),
        "dnsConfig": ref(CORE + "PodDNSConfig"),
        "dnsPolicy": S,
        "enableServiceLinks": B,
        "ephemeralContainers": arr(ref(CORE + "EphemeralContainer")),
        "hostAliases": arr(ref(CORE + "HostAlias")), "hostIPC": B, "hostNetwork": B,
        "hostPID": B, "hostUsers": B, "hostname": S,
        "imagePullSecrets": arr(ref(CORE + "LocalObjectReference")),
        "initContainers": arr(ref(CORE + "Container")), "nodeName": S, "nodeSelector": MAP,
        "os": ref(CORE + "PodOS"),
        "overhead": {"type": "object", "additionalProperties": ref(QTY)},
        "preemptionPolicy": S, "priority": I32,
        "priorityClassName": S, "readinessGates": arr(ref(CORE + "PodReadinessGate")),
        "resourceClaims": arr(ref(CORE + "PodResourceClaim")),
        "resources": ref(CORE + "ResourceRequirements"),
        "restartPolicy": S, "runtimeClassName": S,
        "schedulerName": S, "schedulingGates": arr(ref(CORE + "PodSchedulingGate")),
        "securityContext": ref(CORE + "PodSecurityContext"), "serviceAccount": S,
        "serviceAccountName": S, "setHostnameAsFQDN": B, "shareProcessNamespace": B,
        "subdomain": S, "terminationGracePeriodSeconds": I64,
        "tolerations": arr(ref(CORE + "Toleration")),
        "topologySpreadConstraints": arr(ref(CORE + "TopologySpreadConstraint")),
        "volumes": arr(ref(CORE + "Volume"))}, ["containers"]),
    CORE + "Container": obj(container_props, ["name"]),
    CORE + "EphemeralContainer": obj(dict(container_props, targetContainerName=S), ["name"]),
    CORE + "ContainerPort": obj({"containerPort": I32, "hostIP": S, "hostPort": I32, "name": S,
                                 "protocol": S}, ["containerPort"]),
    CORE + "ContainerResizePolicy": obj({"resourceName": S, "restartPolicy": S},
                                        ["resourceName", "restartPolicy"]),
    CORE + "EnvVar": obj({"name": S, "value": S, "valueFrom": ref(CORE + "EnvVarSource")},
                         ["name"]),
    CORE + "EnvVarSource": obj({
        "configMapKeyRef": ref(CORE + "ConfigMapKeySelector"),
        "fieldRef": ref(CORE + "ObjectFieldSelector"),
        "resourceFieldRef": ref(CORE + "ResourceFieldSelector"),
        "secretKeyRef": ref(CORE + "SecretKeySelector")}),
    CORE + "ConfigMapKeySelector": obj({"key": S, "name": S, "optional": B}, ["key"]),
    CORE + "SecretKeySelector": obj({"key": S, "name": S, "optional": B}, ["key"]),
    CORE + "ObjectFieldSelector": obj({"apiVersion": S, "fieldPath": S}, ["fieldPath"]),
    CORE + "ResourceFieldSelector": obj({"containerName": S, "divisor": ref(QTY),
                                         "resource": S}, ["resource"]),
    CORE + "EnvFromSource": obj({"configMapRef": ref(CORE + "ConfigMapEnvSource"), "prefix": S,
                                 "secretRef": ref(CORE + "SecretEnvSource")}),
    CORE + "ConfigMapEnvSource": obj({"name": S, "optional": B}),
    CORE + "SecretEnvSource": obj({"name": S, "optional": B}),
    CORE + "Lifecycle": obj({"postStart": ref(CORE + "LifecycleHandler"),
                             "preStop": ref(CORE + "LifecycleHandler")}),
    CORE + "LifecycleHandler": obj({
        "exec": ref(CORE + "ExecAction"), "httpGet": ref(CORE + "HTTPGetAction"),
        "sleep": ref(CORE + "SleepAction"), "tcpSocket": ref(CORE + "TCPSocketAction")}),
    CORE + "ExecAction": obj({"command": STRS}),
    CORE + "HTTPGetAction": obj({
        "host": S, "httpHeaders": arr(ref(CORE + "HTTPHeader")), "path": S, "port": ref(IOS),
        "scheme": S}, ["port"]),
    CORE + "HTTPHeader": obj({"name": S, "value": S}, ["name", "value"]),
    CORE + "TCPSocketAction": obj({"host": S, "port": ref(IOS)}, ["port"]),
    CORE + "SleepAction": obj({"seconds": I64}, ["seconds"]),
    CORE + "GRPCAction": obj({"port": I32, "service": S}, ["port"]),
    CORE + "Probe": obj({
        "exec": ref(CORE + "ExecAction"), "failureThreshold": I32, "grpc": ref(CORE + "GRPCAction"),
        "httpGet": ref(CORE + "HTTPGetAction"), "initialDelaySeconds": I32, "periodSeconds": I32,
        "successThreshold": I32, "tcpSocket": ref(CORE + "TCPSocketAction"),
        "terminationGracePeriodSeconds": I64, "timeoutSeconds": I32}),
    CORE + "ResourceRequirements": obj({
        "claims": arr(ref(CORE + "ResourceClaim")),
        "limits": {"type": "object", "additionalProperties": ref(QTY)},
        "requests": {"type": "object", "additionalProperties": ref(QTY)}}),
    CORE + "ResourceClaim": obj({"name": S, "request": S}, ["name"]),
    CORE + "SecurityContext": obj({
        "allowPrivilegeEscalation": B, "appArmorProfile": ref(CORE + "AppArmorProfile"),
        "capabilities": ref(CORE + "Capabilities"), "privileged": B,
        "procMount": S, "readOnlyRootFilesystem": B,
        "runAsGroup": I64, "runAsNonRoot": B, "runAsUser": I64,
        "seLinuxOptions": ref(CORE + "SELinuxOptions"),
        "seccompProfile": ref(CORE + "SeccompProfile"),
        "windowsOptions": ref(CORE + "WindowsSecurityContextOptions")}),
    CORE + "Capabilities": obj({"add": STRS, "drop": STRS}),
    CORE + "SELinuxOptions": obj({"level": S, "role": S, "type": S, "user": S}),
    CORE + "SeccompProfile": obj({"localhostProfile": S,
                                  "type": S},
                                 ["type"]),
    CORE + "AppArmorProfile": obj({"localhostProfile": S,
                                   "type": S},
                                  ["type"]),
    CORE + "WindowsSecurityContextOptions": obj({
        "gmsaCredentialSpec": S, "gmsaCredentialSpecName": S, "hostProcess": B,
        "runAsUserName": S}),
    CORE + "VolumeMount": obj({
        "mountPath": S, "mountPropagation": S,
        "name": S, "readOnly": B, "recursiveReadOnly": S, "subPath": S, "subPathExpr": S},
        ["mountPath", "name"]),
    CORE + "VolumeDevice": obj({"devicePath": S, "name": S}, ["devicePath", "name"]),
    CORE + "Toleration": obj({
        "effect": S, "key": S,
        "operator": S, "tolerationSeconds": I64, "value": S}),
    CORE + "PodDNSConfig": obj({"nameservers": STRS,
                                "options": arr(ref(CORE + "PodDNSConfigOption")),
                                "searches": STRS}),
    CORE + "PodDNSConfigOption": obj({"name": S, "value": S}),
    CORE + "HostAlias": obj({"hostnames": STRS, "ip": S}, ["ip"]),
    CORE + "PodOS": obj({"name": S}, ["name"]),
    CORE + "PodReadinessGate": obj({"conditionType": S}, ["conditionType"]),
    CORE + "PodSchedulingGate": obj({"name": S}, ["name"]),
    CORE + "PodResourceClaim": obj({"name": S, "resourceClaimName": S,
                                    "resourceClaimTemplateName": S}, ["name"]),
    CORE + "PodSecurityContext": obj({
        "appArmorProfile": ref(CORE + "AppArmorProfile"), "fsGroup": I64,
        "fsGroupChangePolicy": S, "runAsGroup": I64,
        "runAsNonRoot": B, "runAsUser": I64, "seLinuxChangePolicy": S,
        "seLinuxOptions": ref(CORE + "SELinuxOptions"),
        "seccompProfile": ref(CORE + "SeccompProfile"), "supplementalGroups": arr(I64),
        "supplementalGroupsPolicy": S,
        "sysctls": arr(ref(CORE + "Sysctl")),
        "windowsOptions": ref(CORE + "WindowsSecurityContextOptions")}),
    CORE + "Sysctl": obj({"name": S, "value": S}, ["name", "value"]),
    CORE + "TopologySpreadConstraint": obj({
        "labelSelector": ref(META + "LabelSelector"), "matchLabelKeys": STRS, "maxSkew": I32,
        "minDomains": I32, "nodeAffinityPolicy": S,
        "nodeTaintsPolicy": S, "topologyKey": S,
        "whenUnsatisfiable": S},
        ["maxSkew", "topologyKey", "whenUnsatisfiable"]),
    CORE + "Affinity": obj({"nodeAffinity": ref(CORE + "NodeAffinity"),
                            "podAffinity": ref(CORE + "PodAffinity"),
                            "podAntiAffinity": ref(CORE + "PodAntiAffinity")}),
    CORE + "NodeAffinity": obj({
        "preferredDuringSchedulingIgnoredDuringExecution": arr(ref(CORE + "PreferredSchedulingTerm")),
        "requiredDuringSchedulingIgnoredDuringExecution": ref(CORE + "NodeSelector")}),
    CORE + "NodeSelector": dict(obj({"nodeSelectorTerms": arr(ref(CORE + "NodeSelectorTerm"))},
                                    ["nodeSelectorTerms"]), **{"x-kubernetes-map-type": "atomic"}),
    CORE + "NodeSelectorTerm": selector_term,
    CORE + "NodeSelectorRequirement": obj({
        "key": S, "operator": S,
        "values": STRS}, ["key", "operator"]),
    CORE + "PreferredSchedulingTerm": obj({"preference": ref(CORE + "NodeSelectorTerm"),
                                           "weight": I32}, ["preference", "weight"]),
    CORE + "PodAffinity": pod_affinity,
    CORE + "PodAntiAffinity": pod_affinity,
    CORE + "WeightedPodAffinityTerm": obj({"podAffinityTerm": ref(CORE + "PodAffinityTerm"),
                                           "weight": I32}, ["podAffinityTerm", "weight"]),
    CORE + "PodAffinityTerm": obj({
        "labelSelector": ref(META + "LabelSelector"), "matchLabelKeys": STRS,
        "mismatchLabelKeys": STRS, "namespaceSelector": ref(META + "LabelSelector"),
        "namespaces": STRS, "topologyKey": S}, ["topologyKey"]),
}

# Volume: every source upstream has; those manifests/ does not use are
# placeholders.
VOLUME_USED = {
    "configMap": "ConfigMapVolumeSource", "downwardAPI": "DownwardAPIVolumeSource",
    "emptyDir": "EmptyDirVolumeSource", "hostPath": "HostPathVolumeSource",
    "image": "ImageVolumeSource", "nfs": "NFSVolumeSource",
    "persistentVolumeClaim": "PersistentVolumeClaimVolumeSource", "secret": "SecretVolumeSource",
}
VOLUME_PLACEHOLDER = {
    "awsElasticBlockStore": "AWSElasticBlockStoreVolumeSource", "azureDisk": "AzureDiskVolumeSource",
    "azureFile": "AzureFileVolumeSource", "cephfs": "CephFSVolumeSource",
    "cinder": "CinderVolumeSource", "csi": "CSIVolumeSource", "ephemeral": "EphemeralVolumeSource",
    "fc": "FCVolumeSource", "flexVolume": "FlexVolumeSource", "flocker": "FlockerVolumeSource",
    "gcePersistentDisk": "GCEPersistentDiskVolumeSource", "gitRepo": "GitRepoVolumeSource",
    "glusterfs": "GlusterfsVolumeSource", "iscsi": "ISCSIVolumeSource",
    "photonPersistentDisk": "PhotonPersistentDiskVolumeSource",
    "portworxVolume": "PortworxVolumeSource", "projected": "ProjectedVolumeSource",
    "quobyte": "QuobyteVolumeSource", "rbd": "RBDVolumeSource", "scaleIO": "ScaleIOVolumeSource",
    "storageos": "StorageOSVolumeSource", "vsphereVolume": "VsphereVirtualDiskVolumeSource",
}
volume_props = {"name": S}
for field, t in {**VOLUME_USED, **VOLUME_PLACEHOLDER}.items():
    volume_props[field] = ref(CORE + t)
volumes = {
    CORE + "Volume": obj(volume_props, ["name"]),
    CORE + "HostPathVolumeSource": obj({"path": S, "type": S}, ["path"]),
    CORE + "EmptyDirVolumeSource": obj({"medium": S, "sizeLimit": ref(QTY)}),
    CORE + "ConfigMapVolumeSource": obj({"defaultMode": I32, "items": arr(ref(CORE + "KeyToPath")),
                                         "name": S, "optional": B}),
    CORE + "SecretVolumeSource": obj({"defaultMode": I32, "items": arr(ref(CORE + "KeyToPath")),
                                      "optional": B, "secretName": S}),
    CORE + "KeyToPath": obj({"key": S, "mode": I32, "path": S}, ["key", "path"]),
    CORE + "DownwardAPIVolumeSource": obj({"defaultMode": I32,
                                           "items": arr(ref(CORE + "DownwardAPIVolumeFile"))}),
    CORE + "DownwardAPIVolumeFile": obj({
        "fieldRef": ref(CORE + "ObjectFieldSelector"), "mode": I32, "path": S,
        "resourceFieldRef": ref(CORE + "ResourceFieldSelector")}, ["path"]),
    CORE + "ImageVolumeSource": obj({"pullPolicy": S,
                                     "reference": S}),
    CORE + "NFSVolumeSource": obj({"path": S, "readOnly": B, "server": S}, ["path", "server"]),
    CORE + "PersistentVolumeClaimVolumeSource": obj({"claimName": S, "readOnly": B},
                                                    ["claimName"]),
}
placeholders = {CORE + t: {"type": "object"} for t in VOLUME_PLACEHOLDER.values()}

# --- apps/v1 ---
APPS = "io.k8s.api.apps.v1."
apps = {
    APPS + "DaemonSet": top(("apps", "v1", "DaemonSet"), {
        "spec": ref(APPS + "DaemonSetSpec"), "status": ref(APPS + "DaemonSetStatus")}),
    APPS + "DaemonSetSpec": obj({
        "minReadySeconds": I32, "revisionHistoryLimit": I32,
        "selector": ref(META + "LabelSelector"), "template": ref(CORE + "PodTemplateSpec"),
        "updateStrategy": ref(APPS + "DaemonSetUpdateStrategy")}, ["selector", "template"]),
    APPS + "DaemonSetUpdateStrategy": obj({
        "rollingUpdate": ref(APPS + "RollingUpdateDaemonSet"),
        "type": S}),
    APPS + "RollingUpdateDaemonSet": obj({"maxSurge": ref(IOS), "maxUnavailable": ref(IOS)}),
    APPS + "DaemonSetStatus": obj({
        "collisionCount": I32, "conditions": arr(ref(APPS + "DaemonSetCondition")),
        "currentNumberScheduled": I32, "desiredNumberScheduled": I32, "numberAvailable": I32,
        "numberMisscheduled": I32, "numberReady": I32, "numberUnavailable": I32,
        "observedGeneration": I64, "updatedNumberScheduled": I32},
        ["currentNumberScheduled", "desiredNumberScheduled", "numberMisscheduled", "numberReady"]),
    APPS + "DaemonSetCondition": obj({
        "lastTransitionTime": ref(META + "Time"), "message": S, "reason": S, "status": S,
        "type": S}, ["status", "type"]),
}

# --- rbac.authorization.k8s.io/v1 ---
RBAC = "io.k8s.api.rbac.v1."
G_RBAC = "rbac.authorization.k8s.io"
rbac = {
    RBAC + "ClusterRole": top((G_RBAC, "v1", "ClusterRole"), {
        "aggregationRule": ref(RBAC + "AggregationRule"), "rules": arr(ref(RBAC + "PolicyRule"))}),
    RBAC + "Role": top((G_RBAC, "v1", "Role"), {"rules": arr(ref(RBAC + "PolicyRule"))}),
    RBAC + "ClusterRoleBinding": top((G_RBAC, "v1", "ClusterRoleBinding"), {
        "roleRef": ref(RBAC + "RoleRef"), "subjects": arr(ref(RBAC + "Subject"))}, ["roleRef"]),
    RBAC + "RoleBinding": top((G_RBAC, "v1", "RoleBinding"), {
        "roleRef": ref(RBAC + "RoleRef"), "subjects": arr(ref(RBAC + "Subject"))}, ["roleRef"]),
    RBAC + "AggregationRule": obj({"clusterRoleSelectors": arr(ref(META + "LabelSelector"))}),
    RBAC + "PolicyRule": obj({"apiGroups": STRS, "nonResourceURLs": STRS, "resourceNames": STRS,
                              "resources": STRS, "verbs": STRS}, ["verbs"]),
    RBAC + "RoleRef": dict(obj({"apiGroup": S, "kind": S, "name": S},
                               ["apiGroup", "kind", "name"]), **{"x-kubernetes-map-type": "atomic"}),
    RBAC + "Subject": dict(obj({"apiGroup": S, "kind": S, "name": S, "namespace": S},
                               ["kind", "name"]), **{"x-kubernetes-map-type": "atomic"}),
}

# --- apiextensions.k8s.io/v1 ---
AX = "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1."
G_AX = "apiextensions.k8s.io"
props_map = {"type": "object", "additionalProperties": ref(AX + "JSONSchemaProps")}
apiext = {
    AX + "CustomResourceDefinition": top((G_AX, "v1", "CustomResourceDefinition"), {
        "spec": ref(AX + "CustomResourceDefinitionSpec"),
        "status": ref(AX + "CustomResourceDefinitionStatus")}, ["spec"]),
    AX + "CustomResourceDefinitionSpec": obj({
        "conversion": ref(AX + "CustomResourceConversion"), "group": S,
        "names": ref(AX + "CustomResourceDefinitionNames"), "preserveUnknownFields": B,
        "scope": S, "versions": arr(ref(AX + "CustomResourceDefinitionVersion"))},
        ["group", "names", "scope", "versions"]),
    AX + "CustomResourceConversion": obj({"strategy": S,
                                          "webhook": ref(AX + "WebhookConversion")}, ["strategy"]),
    AX + "WebhookConversion": obj({"clientConfig": ref(AX + "WebhookClientConfig"),
                                   "conversionReviewVersions": STRS},
                                  ["conversionReviewVersions"]),
    AX + "WebhookClientConfig": obj({"caBundle": {"type": "string", "format": "byte"},
                                     "service": ref(AX + "ServiceReference"), "url": S}),
    AX + "ServiceReference": obj({"name": S, "namespace": S, "path": S, "port": I32},
                                 ["name", "namespace"]),
    AX + "CustomResourceDefinitionNames": obj({
        "categories": STRS, "kind": S, "listKind": S, "plural": S, "shortNames": STRS,
        "singular": S}, ["kind", "plural"]),
    AX + "CustomResourceDefinitionVersion": obj({
        "additionalPrinterColumns": arr(ref(AX + "CustomResourceColumnDefinition")),
        "deprecated": B, "deprecationWarning": S, "name": S,
        "schema": ref(AX + "CustomResourceValidation"),
        "selectableFields": arr(ref(AX + "SelectableField")), "served": B, "storage": B,
        "subresources": ref(AX + "CustomResourceSubresources")},
        ["name", "served", "storage"]),
    AX + "CustomResourceColumnDefinition": obj({
        "description": S, "format": S, "jsonPath": S, "name": S, "priority": I32, "type": S},
        ["jsonPath", "name", "type"]),
    AX + "SelectableField": obj({"jsonPath": S}, ["jsonPath"]),
    AX + "CustomResourceValidation": obj({"openAPIV3Schema": ref(AX + "JSONSchemaProps")}),
    AX + "CustomResourceSubresources": obj({
        "scale": ref(AX + "CustomResourceSubresourceScale"),
        "status": ref(AX + "CustomResourceSubresourceStatus")}),
    AX + "CustomResourceSubresourceStatus": {"type": "object"},
    AX + "CustomResourceSubresourceScale": obj({
        "labelSelectorPath": S, "specReplicasPath": S, "statusReplicasPath": S},
        ["specReplicasPath", "statusReplicasPath"]),
    AX + "JSONSchemaProps": obj({
        "$ref": S, "$schema": S, "additionalItems": ref(AX + "JSONSchemaPropsOrBool"),
        "additionalProperties": ref(AX + "JSONSchemaPropsOrBool"),
        "allOf": arr(ref(AX + "JSONSchemaProps")), "anyOf": arr(ref(AX + "JSONSchemaProps")),
        "default": ref(AX + "JSON"), "definitions": props_map,
        "dependencies": {"type": "object",
                         "additionalProperties": ref(AX + "JSONSchemaPropsOrStringArray")},
        "description": S, "enum": arr(ref(AX + "JSON")), "example": ref(AX + "JSON"),
        "exclusiveMaximum": B, "exclusiveMinimum": B,
        "externalDocs": ref(AX + "ExternalDocumentation"), "format": S, "id": S,
        "items": ref(AX + "JSONSchemaPropsOrArray"), "maxItems": I64, "maxLength": I64,
        "maxProperties": I64, "maximum": {"type": "number", "format": "double"},
        "minItems": I64, "minLength": I64, "minProperties": I64,
        "minimum": {"type": "number", "format": "double"},
        "multipleOf": {"type": "number", "format": "double"}, "not": ref(AX + "JSONSchemaProps"),
        "nullable": B, "oneOf": arr(ref(AX + "JSONSchemaProps")), "pattern": S,
        "patternProperties": props_map, "properties": props_map, "required": STRS, "title": S,
        "type": S, "uniqueItems": B, "x-kubernetes-embedded-resource": B,
        "x-kubernetes-int-or-string": B, "x-kubernetes-list-map-keys": STRS,
        "x-kubernetes-list-type": S, "x-kubernetes-map-type": S,
        "x-kubernetes-preserve-unknown-fields": B,
        "x-kubernetes-validations": arr(ref(AX + "ValidationRule"))}),
    # Upstream gives these three no type: any JSON value.
    AX + "JSON": {},
    AX + "JSONSchemaPropsOrBool": {},
    AX + "JSONSchemaPropsOrArray": {},
    AX + "JSONSchemaPropsOrStringArray": {},
    AX + "ExternalDocumentation": obj({"description": S, "url": S}),
    AX + "ValidationRule": obj({"fieldPath": S, "message": S, "messageExpression": S,
                                "optionalOldSelf": B, "reason": S, "rule": S}, ["rule"]),
    AX + "CustomResourceDefinitionStatus": obj({
        "acceptedNames": ref(AX + "CustomResourceDefinitionNames"),
        "conditions": arr(ref(AX + "CustomResourceDefinitionCondition")),
        "storedVersions": STRS}),
    AX + "CustomResourceDefinitionCondition": obj({
        "lastTransitionTime": ref(META + "Time"), "message": S, "reason": S, "status": S,
        "type": S}, ["status", "type"]),
}


def patch_path(group, version, plural, kind, namespaced):
    base = "/api/v1" if not group else "/apis/%s/%s" % (group, version)
    path = base + ("/namespaces/{namespace}" if namespaced else "") + "/%s/{name}" % plural
    op = {"operationId": "patch%s%s" % (kind, version.capitalize()),
          "x-kubernetes-action": "patch",
          "x-kubernetes-group-version-kind": {"group": group, "kind": kind, "version": version},
          "parameters": [
              {"name": "dryRun", "in": "query", "schema": {"type": "string"}},
              {"name": "fieldManager", "in": "query", "schema": {"type": "string"}},
              {"name": "force", "in": "query", "schema": {"type": "boolean"}}],
          "requestBody": {"content": {"application/merge-patch+json": {
              "schema": {"$ref": SCHEMAS + META + "Patch"}}}, "required": True},
          "responses": {"200": {"description": "OK"}}}
    return {path: {"patch": op}}


def document(gv, resources, *schema_sets):
    schemas = {META + "Patch": {"type": "object"}}
    for s in schema_sets:
        schemas.update(s)
    paths = {}
    for r in resources:
        paths.update(patch_path(*r))
    doc = {"openapi": "3.0.0",
           "info": {"title": "Kubernetes", "version": "v1.32.0"},
           "paths": paths, "components": {"schemas": dict(sorted(schemas.items()))}}
    ph = sorted(k for k in schemas if k in placeholders)
    if ph:
        doc["x-bulkhead-placeholders"] = ph
    # Every $ref resolves.
    text = json.dumps(doc)
    for part in text.split('"$ref": "' + SCHEMAS)[1:]:
        name = part.split('"', 1)[0]
        assert name in schemas, "%s: unresolved $ref %s" % (gv, name)
    return doc


pod_all = {**meta, **quantity, **intorstring, **core_objects, **pod, **volumes, **placeholders}
DOCS = {
    "api__v1_openapi.json": document(
        "v1", [("", "v1", "namespaces", "Namespace", False),
               ("", "v1", "serviceaccounts", "ServiceAccount", True)],
        meta, core_objects),
    "apis__apps__v1_openapi.json": document(
        "apps/v1", [("apps", "v1", "daemonsets", "DaemonSet", True)], pod_all, apps),
    "apis__rbac.authorization.k8s.io__v1_openapi.json": document(
        "rbac/v1", [(G_RBAC, "v1", "clusterroles", "ClusterRole", False),
                    (G_RBAC, "v1", "clusterrolebindings", "ClusterRoleBinding", False),
                    (G_RBAC, "v1", "roles", "Role", True),
                    (G_RBAC, "v1", "rolebindings", "RoleBinding", True)], meta, rbac),
    "apis__apiextensions.k8s.io__v1_openapi.json": document(
        "apiextensions/v1",
        [(G_AX, "v1", "customresourcedefinitions", "CustomResourceDefinition", False)],
        meta, apiext),
}

if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    for name, doc in DOCS.items():
        with open(os.path.join(here, name), "w") as f:
            json.dump(doc, f, indent=1, sort_keys=False)
            f.write("\n")
        print("wrote", name, len(doc["components"]["schemas"]), "schemas")

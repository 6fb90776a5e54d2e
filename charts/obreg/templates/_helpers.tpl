{{- define "obreg.labels" -}}
app.kubernetes.io/name: obreg
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* The one list of what obreg may do; every Role and ClusterRole uses it. */}}
{{- define "obreg.rules" -}}
# Its own resources: read them, write their status.
- apiGroups: ["obreg.dev"]
  resources: ["obtrustanchors", "obidentityproviders", "observiceproviders"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["obreg.dev"]
  resources: ["obtrustanchors/status", "obidentityproviders/status", "observiceproviders/status"]
  verbs: ["patch"]
# Referenced inputs (read); obreg-<workload> outputs and generated client credentials
# (server-side apply is a patch, or a create when the object does not exist yet).
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get", "list", "watch", "create", "patch"]
- apiGroups: [""]
  resources: ["configmaps"]
  verbs: ["get", "list", "watch", "create", "patch"]
# The workloads it rolls and, when they opt in, mounts its files into.
- apiGroups: ["apps"]
  resources: ["deployments", "statefulsets"]
  verbs: ["get", "list", "watch", "patch"]
# Events on its resources.
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create"]
# kopf peering: two instances never act at once.
- apiGroups: ["kopf.dev"]
  resources: ["clusterkopfpeerings", "kopfpeerings"]
  verbs: ["get", "list", "watch", "patch"]
{{- end }}

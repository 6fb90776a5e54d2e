{{/* The chart's name, or nameOverride. */}}
{{- define "obreg.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The name of every object: fullnameOverride, else <release>-<name>, or the release
name alone when it already contains the name (release "obreg": "obreg"). */}}
{{- define "obreg.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := include "obreg.name" . }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "obreg.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* What the Deployment, Service, budget and policy select pods by; never changes
between upgrades of a release (a Deployment's selector is immutable). */}}
{{- define "obreg.selectorLabels" -}}
app.kubernetes.io/name: {{ include "obreg.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The standard labels of every object. */}}
{{- define "obreg.standardLabels" -}}
helm.sh/chart: {{ include "obreg.chart" . }}
{{ include "obreg.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Every object's labels: the standard ones, and commonLabels (never replacing one). */}}
{{- define "obreg.labels" -}}
{{- toYaml (merge (include "obreg.standardLabels" . | fromYaml) (.Values.commonLabels | default dict)) }}
{{- end }}

{{/* The pod's: the standard labels, then podLabels, then commonLabels. */}}
{{- define "obreg.podLabels" -}}
{{- $labels := include "obreg.standardLabels" . | fromYaml }}
{{- toYaml (merge $labels (.Values.podLabels | default dict) (.Values.commonLabels | default dict)) }}
{{- end }}

{{- define "obreg.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "obreg.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* registry/repository@digest, or registry/repository:tag (tag default appVersion). */}}
{{- define "obreg.image" -}}
{{- $image := .Values.image }}
{{- if $image.registry }}{{ trimSuffix "/" $image.registry }}/{{ end }}{{ $image.repository }}
{{- if $image.digest }}@{{ $image.digest }}{{ else }}:{{ $image.tag | default .Chart.AppVersion }}{{ end }}
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
{{- end }}

{{/* Names, labels and the operator's RBAC rules, shared by every template. */}}

{{- define "kubetune.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "kubetune.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "kubetune.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "kubetune.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kubetune.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "kubetune.labels" -}}
helm.sh/chart: {{ include "kubetune.chart" . }}
{{ include "kubetune.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: kubetune
{{- end }}

{{- define "kubetune.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "kubetune.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "kubetune.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
What the operator calls in each namespace it watches. Every verb here is one the operator (kopf
or its own client) really sends: tests/integration/chart/test_operator_scenario.py records the emulator's
request log while the operator runs and fails if a request is missing here or a rule goes unused.
*/}}
{{- define "kubetune.namespacedRules" -}}
# TuningJobs: kopf watches them and patches finalizers/annotations (under kubetune.io).
- apiGroups: [kubetune.io]
  resources: [tuningjobs]
  verbs: [list, watch, patch]
- apiGroups: [kubetune.io]
  resources: [tuningjobs/status]
  verbs: [patch]
# Trial Jobs and study ConfigMaps are owned with blockOwnerDeletion, which needs this where the
# OwnerReferencesPermissionEnforcement admission plugin is on.
- apiGroups: [kubetune.io]
  resources: [tuningjobs/finalizers]
  verbs: [update]
# One Job per trial: created, stopped (deleted) and cleaned up with the TuningJob.
- apiGroups: [batch]
  resources: [jobs]
  verbs: [list, watch, create, delete, deletecollection]
{{- range .Values.trialKinds }}
# Trials of kind {{ .kind }} (trialKinds), as Jobs above.
- apiGroups: [{{ (split "/" .apiVersion)._0 | quote }}]
  resources: [{{ printf "%ss" (lower .kind) | quote }}]
  verbs: [list, watch, create, delete, deletecollection]
{{- end }}
# Trial pods: watched for scheduling and exit state; the primary container's log holds metrics.
- apiGroups: [""]
  resources: [pods]
  verbs: [list, watch]
- apiGroups: [""]
  resources: [pods/log]
  verbs: [get]
# The study journal (ConfigMap chunks), deleted with the TuningJob.
- apiGroups: [""]
  resources: [configmaps]
  verbs: [get, list, create, patch, deletecollection]
# Events on TuningJobs (kopf posts them).
- apiGroups: [""]
  resources: [events]
  verbs: [create]
{{- if .Values.rbac.secrets }}
# Only the Secrets a TuningJob names in metrics.prometheus.bearerTokenSecret / caSecret (the
# admission policy checks that its creator may read them); rbac.secretNames narrows it further.
- apiGroups: [""]
  resources: [secrets]
  verbs: [get]
  {{- with .Values.rbac.secretNames }}
  resourceNames: {{ toJson . }}
  {{- end }}
{{- end }}
{{- end }}

{{/* Cluster-scoped reads kopf uses to discover CRDs (always) and namespaces (namespaced mode). */}}
{{- define "kubetune.discoveryRules" -}}
- apiGroups: [apiextensions.k8s.io]
  resources: [customresourcedefinitions]
  verbs: [list, watch]
{{- if .Values.watchNamespaces }}
- apiGroups: [""]
  resources: [namespaces]
  verbs: [list, watch]
{{- end }}
{{- end }}

{{/*
"true" where the cluster serves the Prometheus Operator's PodMonitor kind (helm template: add
--api-versions monitoring.coreos.com/v1/PodMonitor), else empty. The kind, not just
monitoring.coreos.com/v1: a cluster may serve that group/version without PodMonitors.
*/}}
{{- define "kubetune.podMonitorServed" -}}
{{- if .Capabilities.APIVersions.Has "monitoring.coreos.com/v1/PodMonitor" }}true{{ end }}
{{- end }}

{{/* A Prometheus duration as the schema allows it (1h30m, 15s, 500ms) in milliseconds. */}}
{{- define "kubetune.durationMilliseconds" -}}
{{- $total := 0 }}
{{- range regexFindAll "[0-9]+(ms|s|m|h)" . -1 }}
{{- $unit := regexFind "(ms|s|m|h)$" . }}
{{- $total = add $total (mul (atoi (trimSuffix $unit .)) (get (dict "ms" 1 "s" 1000 "m" 60000 "h" 3600000) $unit)) }}
{{- end }}
{{- $total }}
{{- end }}

{{/*
Fails the render when a monitor's scrapeTimeout exceeds its interval, which the Prometheus
Operator rejects. Called with (dict "name" "trialPodMonitor" "monitor" .Values.trialPodMonitor).
*/}}
{{- define "kubetune.checkScrapeTimeout" -}}
{{- $interval := .monitor.interval }}
{{- $timeout := .monitor.scrapeTimeout }}
{{- if and $interval $timeout }}
{{- if gt (atoi (include "kubetune.durationMilliseconds" $timeout)) (atoi (include "kubetune.durationMilliseconds" $interval)) }}
{{- fail (printf "%s.scrapeTimeout (%s) is longer than %s.interval (%s), which Prometheus rejects: set it to at most the interval, or leave it empty (Prometheus's default timeout, capped at the interval)" .name $timeout .name $interval) }}
{{- end }}
{{- end }}
{{- end }}

{{/* trialKinds as the operator's KUBETUNE_TRIAL_KINDS: "apiVersion/Kind,apiVersion/Kind". */}}
{{- define "kubetune.trialKinds" -}}
{{- $kinds := list -}}
{{- range .Values.trialKinds -}}
{{- $kinds = append $kinds (printf "%s/%s" .apiVersion .kind) -}}
{{- end -}}
{{- join "," $kinds -}}
{{- end }}

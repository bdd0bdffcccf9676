{{/* The objects' name: fullnameOverride, else the release's name. */}}
{{- define "bindsnoop.fullname" -}}
{{- default .Release.Name .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* What selects the agent's pods: stable for the life of a release. */}}
{{- define "bindsnoop.selectorLabels" -}}
app.kubernetes.io/name: bindsnoop
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "bindsnoop.labels" -}}
{{ include "bindsnoop.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "bindsnoop.serviceAccountName" -}}
{{- default (include "bindsnoop.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{/* The port of /healthz, /readyz and /metrics: the agent's server.port. */}}
{{- define "bindsnoop.port" -}}
{{- $server := default dict .Values.config.server -}}
{{- default 9090 $server.port -}}
{{- end -}}

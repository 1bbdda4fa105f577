{{/* Chart name, truncated to the 63 characters a label allows. */}}
{{- define "schemagate.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Fully qualified app name: <release>-schemagate unless the release name already contains it. */}}
{{- define "schemagate.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else if contains (include "schemagate.name" .) .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name (include "schemagate.name" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "schemagate.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "schemagate.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "schemagate.selectorLabels" -}}
app.kubernetes.io/name: {{ include "schemagate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "schemagate.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}
{{- end }}

{{- define "schemagate.secretName" -}}
{{- if .Values.database.createSecret.enabled -}}
{{ include "schemagate.fullname" . }}-db
{{- else -}}
{{ required "database.existingSecret is required (or set database.createSecret.enabled)" .Values.database.existingSecret }}
{{- end -}}
{{- end }}

{{- define "schemagate.migrationsConfigMap" -}}
{{ include "schemagate.fullname" . }}-migrations
{{- end }}

{{/* Restricted Pod Security Standard, pod level. */}}
{{- define "schemagate.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* Restricted Pod Security Standard, container level. */}}
{{- define "schemagate.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
capabilities:
  drop:
    - ALL
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* Connection settings, shared by the Job and the example app's initContainer. */}}
{{- define "schemagate.connectionEnv" -}}
{{- if .Values.database.urlKey }}
- name: DATABASE_URL_FILE
  value: /var/run/secrets/schemagate-db/{{ .Values.database.urlKey }}
{{- else }}
- name: POSTGRES_HOST
  value: {{ .Values.database.host | quote }}
- name: POSTGRES_PORT
  value: {{ .Values.database.port | quote }}
- name: POSTGRES_USER
  value: {{ .Values.database.user | quote }}
{{- with .Values.database.name }}
- name: POSTGRES_DB
  value: {{ . | quote }}
{{- end }}
- name: POSTGRES_PASSWORD_FILE
  value: /var/run/secrets/schemagate-db/{{ .Values.database.passwordKey }}
- name: POSTGRES_SSLMODE
  value: {{ .Values.database.sslmode | quote }}
{{- if or .Values.database.sslrootcert.secretName .Values.database.sslrootcert.configMapName }}
- name: POSTGRES_SSLROOTCERT
  value: /etc/schemagate/ca/{{ .Values.database.sslrootcert.key }}
{{- end }}
{{- end }}
- name: SCHEMAGATE_MIGRATIONS_DIR
  value: /migrations
- name: SCHEMAGATE_CONNECT_TIMEOUT
  value: {{ .Values.schemagate.connectTimeout | quote }}
- name: SCHEMAGATE_LOG_FORMAT
  value: {{ .Values.schemagate.logFormat | quote }}
{{- with .Values.schemagate.historyTable }}
- name: SCHEMAGATE_HISTORY_TABLE
  value: {{ . | quote }}
{{- end }}
{{- end }}

{{- define "schemagate.volumeMounts" -}}
- name: db-credentials
  mountPath: /var/run/secrets/schemagate-db
  readOnly: true
{{- if eq .Values.migrations.source "configMap" }}
- name: migrations
  mountPath: /migrations
  readOnly: true
{{- end }}
{{- if or .Values.database.sslrootcert.secretName .Values.database.sslrootcert.configMapName }}
- name: ca
  mountPath: /etc/schemagate/ca
  readOnly: true
{{- end }}
{{- end }}

{{- define "schemagate.volumes" -}}
- name: db-credentials
  secret:
    secretName: {{ include "schemagate.secretName" . }}
    defaultMode: 0440
{{- if eq .Values.migrations.source "configMap" }}
- name: migrations
  configMap:
    name: {{ include "schemagate.migrationsConfigMap" . }}
{{- end }}
{{- if .Values.database.sslrootcert.secretName }}
- name: ca
  secret:
    secretName: {{ .Values.database.sslrootcert.secretName }}
    defaultMode: 0444
{{- else if .Values.database.sslrootcert.configMapName }}
- name: ca
  configMap:
    name: {{ .Values.database.sslrootcert.configMapName }}
{{- end }}
{{- end }}

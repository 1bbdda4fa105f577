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
{{- $repository := required "image.repository is required: the image built from docker/Dockerfile with your migrations baked in (or set migrations.source=configMap), e.g. --set image.repository=registry.example.com/shop/schemagate" .Values.image.repository -}}
{{- if .Values.image.digest -}}
{{ $repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ $repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
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

{{/* Where the CA bundle is mounted; empty without one. */}}
{{- define "schemagate.caPath" -}}
{{- if or .Values.database.sslrootcert.secretName .Values.database.sslrootcert.configMapName -}}
/etc/schemagate/ca/{{ .Values.database.sslrootcert.key }}
{{- end -}}
{{- end }}

{{/*
The $defs.schemagateSettings block of values.schema.json: the one list of
SCHEMAGATE_* variables. files/values.schema.json is a symbolic link to
../values.schema.json (Helm keeps the schema itself out of .Files; a packaged
chart holds a copy).
*/}}
{{- define "schemagate.settings" -}}
{{- $schema := .Files.Get "files/values.schema.json" | fromJson -}}
{{- $settings := dig "$defs" "schemagateSettings" "properties" dict $schema -}}
{{- if not $settings -}}
{{- fail "files/values.schema.json has no $defs.schemagateSettings: it must be a symbolic link to ../values.schema.json (or, in a packaged chart, a copy of it)" -}}
{{- end -}}
{{- toJson $settings -}}
{{- end }}

{{/* A duration (250ms, 30s, 5m, 1h, bare seconds) in seconds. */}}
{{- define "schemagate.seconds" -}}
{{- $text := toString . -}}
{{- $number := regexFind "^[0-9]+(\\.[0-9]+)?" $text | float64 -}}
{{- $unit := regexReplaceAll "^[0-9]+(\\.[0-9]+)?" $text "" -}}
{{- if eq $unit "ms" }}{{ divf $number 1000 }}
{{- else if eq $unit "m" }}{{ mulf $number 60 }}
{{- else if eq $unit "h" }}{{ mulf $number 3600 }}
{{- else }}{{ $number }}
{{- end -}}
{{- end }}

{{/*
Checks the connection URL stored by createSecret against a mounted CA, which
the chart passes as SCHEMAGATE_SSLROOTCERT. schemagate uses that only when the
URL names no sslrootcert (an empty one included), so the URL may name none
but the mounted CA; and it must say sslmode=verify-ca or verify-full, the rule
database.sslmode follows in POSTGRES_* mode (disable ignores a CA, prefer falls
back to an unencrypted connection). Of a repeated parameter the last counts,
as in schemagate. No message here may show the URL: it holds the password.
*/}}
{{- define "schemagate.checkSecretUrl" -}}
{{- $url := .Values.database.createSecret.url -}}
{{- $ca := include "schemagate.caPath" . -}}
{{- if $ca -}}
{{- $modes := list -}}
{{- $roots := list -}}
{{- if regexMatch "^postgres(ql)?://" $url -}}
{{- range regexFindAll "[?&]sslmode=[^&]*" $url -1 }}{{ $modes = append $modes (regexReplaceAll "^[?&]sslmode=" . "") }}{{ end -}}
{{- range regexFindAll "[?&]sslrootcert=[^&]*" $url -1 }}{{ $roots = append $roots (regexReplaceAll "^[?&]sslrootcert=" . "") }}{{ end -}}
{{- else -}}
{{- range regexFindAll "(^|\\s)sslmode\\s*=\\s*('[^']*'|[^\\s']*)" $url -1 }}{{ $modes = append $modes (regexReplaceAll "^\\s*sslmode\\s*=\\s*" . "" | trimAll "'") }}{{ end -}}
{{- range regexFindAll "(^|\\s)sslrootcert\\s*=\\s*('[^']*'|[^\\s']*)" $url -1 }}{{ $roots = append $roots (regexReplaceAll "^\\s*sslrootcert\\s*=\\s*" . "" | trimAll "'") }}{{ end -}}
{{- end -}}
{{- if not (has (last $modes) (list "verify-ca" "verify-full")) -}}
{{- fail "database.createSecret.url: with a CA (database.sslrootcert) the URL must set sslmode=verify-ca or sslmode=verify-full" -}}
{{- end -}}
{{- if and $roots (ne (last $roots) $ca) -}}
{{- fail (printf "database.createSecret.url names sslrootcert=%s, which wins over the CA mounted at %s: drop it from the URL" (last $roots) $ca) -}}
{{- end -}}
{{- end -}}
{{- end }}

{{/* Connection and common settings, shared by every schemagate container. */}}
{{- define "schemagate.baseEnv" -}}
{{- if .Values.database.urlKey }}
- name: DATABASE_URL_FILE
  value: /var/run/secrets/schemagate-db/{{ .Values.database.urlKey }}
{{- /* Used unless the URL names a sslrootcert itself. */}}
{{- with include "schemagate.caPath" . }}
- name: SCHEMAGATE_SSLROOTCERT
  value: {{ . }}
{{- end }}
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
{{- with include "schemagate.caPath" . }}
- name: POSTGRES_SSLROOTCERT
  value: {{ . }}
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

{{/* What the chart sets itself: (dict "root" $ "wait" <duration> "lock" <duration or "">). */}}
{{- define "schemagate.chartEnv" -}}
{{ include "schemagate.baseEnv" .root | trim }}
- name: SCHEMAGATE_WAIT_TIMEOUT
  value: {{ .wait | quote }}
{{- with .lock }}
- name: SCHEMAGATE_LOCK_TIMEOUT
  value: {{ . | quote }}
{{- end }}
{{- end }}

{{/* The whole env of a schemagate container: the chart's, then extraEnv. */}}
{{- define "schemagate.env" -}}
{{ include "schemagate.chartEnv" . }}
{{- with .root.Values.schemagate.extraEnv }}
{{ toYaml . }}
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
{{- if include "schemagate.caPath" . }}
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

{{/*
The pod spec the Job and the test Pod share, after restartPolicy:
(dict "root" $ "args" <list> "env" <rendered env>).
*/}}
{{- define "schemagate.podSpec" -}}
{{- $v := .root.Values -}}
automountServiceAccountToken: {{ $v.job.automountServiceAccountToken }}
# Service links would inject POSTGRES_PORT=tcp://... or SCHEMAGATE_*
# variables for Services of those names.
enableServiceLinks: false
{{- with $v.job.serviceAccountName }}
serviceAccountName: {{ . }}
{{- end }}
{{- with $v.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $v.podSecurityContext }}
securityContext:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $v.job.initContainers }}
initContainers:
  {{- toYaml . | nindent 2 }}
{{- end }}
containers:
  - name: schemagate
    image: {{ include "schemagate.image" .root | quote }}
    imagePullPolicy: {{ $v.image.pullPolicy }}
    args: {{ toJson .args }}
    env:
      {{- .env | trim | nindent 6 }}
    # schemagate writes a one-line summary to /dev/termination-log on exit;
    # FallbackToLogsOnError covers a crash before it could.
    terminationMessagePolicy: FallbackToLogsOnError
    {{- with $v.containerSecurityContext }}
    securityContext:
      {{- toYaml . | nindent 6 }}
    {{- end }}
    {{- with $v.job.resources }}
    resources:
      {{- toYaml . | nindent 6 }}
    {{- end }}
    volumeMounts:
      {{- include "schemagate.volumeMounts" .root | trim | nindent 6 }}
      {{- with $v.job.extraVolumeMounts }}
      {{- toYaml . | nindent 6 }}
      {{- end }}
volumes:
  {{- include "schemagate.volumes" .root | trim | nindent 2 }}
  {{- with $v.job.extraVolumes }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- with $v.job.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $v.job.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $v.job.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* Checks across values that values.schema.json cannot express. */}}
{{- define "schemagate.validate" -}}
{{- $v := .Values -}}
{{- $_ := include "schemagate.image" . -}}
{{- if and (eq $v.migrations.source "configMap") (not $v.migrations.files) -}}
{{- fail "migrations.source is configMap but migrations.files is empty: add files, or bake them into the image and set migrations.source=image" -}}
{{- end -}}
{{- /* The Job must outlive schemagate's own waits, or Kubernetes kills it mid-wait. */ -}}
{{- $wait := include "schemagate.seconds" $v.schemagate.waitTimeout | float64 -}}
{{- $lock := include "schemagate.seconds" $v.schemagate.lockTimeout | float64 -}}
{{- if ge (addf $wait $lock) (float64 $v.job.activeDeadlineSeconds) -}}
{{- fail (printf "schemagate.waitTimeout (%s) + schemagate.lockTimeout (%s) = %vs reach job.activeDeadlineSeconds (%ds): Kubernetes would kill the Job while schemagate still waits. Lower them, or raise job.activeDeadlineSeconds (and run helm with a --timeout above it)" $v.schemagate.waitTimeout $v.schemagate.lockTimeout (addf $wait $lock) (int $v.job.activeDeadlineSeconds)) -}}
{{- end -}}
{{- /* extraEnv: no name the chart sets; SCHEMAGATE_* names and values as $defs.schemagateSettings says. */ -}}
{{- $settings := include "schemagate.settings" . | fromJson -}}
{{- $chartNames := list -}}
{{- range (include "schemagate.chartEnv" (dict "root" . "wait" "0" "lock" "0") | fromYamlArray) -}}
{{- $chartNames = append $chartNames .name -}}
{{- end -}}
{{- range $v.schemagate.extraEnv -}}
{{- /* Also where the chart does not set it: a CA comes through database.sslrootcert, which mounts it in every schemagate container. */ -}}
{{- if eq .name "SCHEMAGATE_SSLROOTCERT" -}}
{{- fail "schemagate.extraEnv: SCHEMAGATE_SSLROOTCERT is set by the chart from database.sslrootcert, which mounts the CA in every schemagate container; set that instead" -}}
{{- else if or (hasPrefix "DATABASE_URL" .name) (hasPrefix "POSTGRES_" .name) -}}
{{- /* The connection comes from database.* only: a DATABASE_URL_FILE here would switch schemagate to URL mode, where POSTGRES_SSLROOTCERT and the rest are ignored. */ -}}
{{- fail (printf "schemagate.extraEnv: %s is part of the connection, which the chart sets from database.* (urlKey for a URL); set that instead" .name) -}}
{{- else if has .name $chartNames -}}
{{- fail (printf "schemagate.extraEnv: %s is set by the chart from database.* or schemagate.*; set that value instead" .name) -}}
{{- end -}}
{{- if hasPrefix "SCHEMAGATE_" .name -}}
{{- if not (hasKey $settings .name) -}}
{{- fail (printf "schemagate.extraEnv: unknown variable %s (schemagate would exit 2); known: %s" .name (keys $settings | sortAlpha | join ", ")) -}}
{{- end -}}
{{- $setting := get $settings .name -}}
{{- if hasKey . "value" -}}
{{- $value := toString .value -}}
{{- if and (hasKey $setting "pattern") (not (regexMatch $setting.pattern $value)) -}}
{{- fail (printf "schemagate.extraEnv: %s=%q does not match %s" .name $value $setting.pattern) -}}
{{- end -}}
{{- if and (hasKey $setting "enum") (not (has $value $setting.enum)) -}}
{{- fail (printf "schemagate.extraEnv: %s=%q is not one of %s" .name $value (join ", " $setting.enum)) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if and $v.database.urlKey $v.database.createSecret.enabled (not $v.database.createSecret.url) -}}
{{- fail "database.urlKey with database.createSecret needs database.createSecret.url" -}}
{{- end -}}
{{- /* A mounted CA must be used: a URL the chart stores must leave it to SCHEMAGATE_SSLROOTCERT, and verify. */ -}}
{{- if and $v.database.createSecret.enabled $v.database.createSecret.url -}}
{{- $_ := include "schemagate.checkSecretUrl" . -}}
{{- end -}}
{{- if and $v.exampleApp.enabled $v.database.createSecret.enabled -}}
{{- fail "exampleApp mounts the database Secret, which database.createSecret deletes once the hooks succeeded: use database.existingSecret with exampleApp" -}}
{{- end -}}
{{- /* Native sidecars need Kubernetes 1.29; before, the field is dropped and the sidecar keeps the Job from completing. */ -}}
{{- range $v.job.initContainers -}}
{{- if and (eq (toString .restartPolicy) "Always") (semverCompare "<1.29.0-0" $.Capabilities.KubeVersion.Version) -}}
{{- fail (printf "job.initContainers: %s is a native sidecar (restartPolicy: Always), which needs Kubernetes 1.29 or later, not %s" .name $.Capabilities.KubeVersion.Version) -}}
{{- end -}}
{{- end -}}
{{- if and $v.networkPolicy.enabled (not $v.networkPolicy.database) -}}
{{- fail "networkPolicy.enabled needs networkPolicy.database: the peers (ipBlock, podSelector, namespaceSelector) the database runs on" -}}
{{- end -}}
{{- end }}

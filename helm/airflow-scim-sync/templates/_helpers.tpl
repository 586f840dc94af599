{{/* Chart name, truncated to the DNS label limit. */}}
{{- define "airflow-scim-sync.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Full name: <release>-<chart>, or <release> when it already contains the chart name. */}}
{{- define "airflow-scim-sync.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "airflow-scim-sync.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "airflow-scim-sync.selectorLabels" -}}
app.kubernetes.io/name: {{ include "airflow-scim-sync.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "airflow-scim-sync.labels" -}}
helm.sh/chart: {{ include "airflow-scim-sync.chart" . }}
{{ include "airflow-scim-sync.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: airflow
{{- end -}}

{{/* Labels that select the pods serving SCIM: our Deployment's, or the Airflow pods in sidecar mode. */}}
{{- define "airflow-scim-sync.podSelector" -}}
{{- if eq .Values.mode "sidecar" -}}
{{- toYaml .Values.sidecar.podSelector -}}
{{- else -}}
{{- include "airflow-scim-sync.selectorLabels" . -}}
{{- end -}}
{{- end -}}

{{- define "airflow-scim-sync.scimPort" -}}
{{- if eq .Values.mode "sidecar" }}{{ .Values.sidecar.port }}{{ else }}8080{{ end -}}
{{- end -}}

{{- define "airflow-scim-sync.metricsPort" -}}
{{- if eq .Values.mode "sidecar" }}{{ .Values.sidecar.metricsPort }}{{ else }}9464{{ end -}}
{{- end -}}

{{- define "airflow-scim-sync.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "airflow-scim-sync.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "airflow-scim-sync.image" -}}
{{- $tag := .Values.image.tag | default .Chart.AppVersion -}}
{{- if .Values.image.digest -}}
{{- printf "%s:%s@%s" .Values.image.repository $tag .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{- define "airflow-scim-sync.secretName" -}}
{{- default (printf "%s-credentials" (include "airflow-scim-sync.fullname" .)) .Values.secret.existingSecret -}}
{{- end -}}

{{- define "airflow-scim-sync.configMapName" -}}
{{- printf "%s-config" (include "airflow-scim-sync.fullname" .) -}}
{{- end -}}

{{- define "airflow-scim-sync.claimName" -}}
{{- default (printf "%s-data" (include "airflow-scim-sync.fullname" .)) .Values.persistence.existingClaim -}}
{{- end -}}

{{/* Non-empty when PostgreSQL is the store (database.url or database.existingSecret); SQLite on the PVC otherwise. */}}
{{- define "airflow-scim-sync.postgres" -}}
{{- if or .Values.database.url .Values.database.existingSecret -}}
true
{{- end -}}
{{- end -}}

{{/* The Secret with DATABASE_URL: yours (database.existingSecret), or the one rendered from database.url. */}}
{{- define "airflow-scim-sync.databaseSecretName" -}}
{{- default (printf "%s-database" (include "airflow-scim-sync.fullname" .)) .Values.database.existingSecret -}}
{{- end -}}

{{- define "airflow-scim-sync.databaseSecretKey" -}}
{{- if .Values.database.existingSecret }}{{ .Values.database.existingSecretKey }}{{ else }}DATABASE_URL{{ end -}}
{{- end -}}

{{/*
Checks across values that values.schema.json cannot word clearly; included by the ConfigMap, rendered in every mode.
*/}}
{{- define "airflow-scim-sync.validate" -}}
{{- if and .Values.database.url .Values.database.existingSecret -}}
{{- fail "set database.url or database.existingSecret, not both" -}}
{{- end -}}
{{- if and (gt (int .Values.replicas) 1) (not (include "airflow-scim-sync.postgres" .)) -}}
{{- fail "replicas > 1 needs PostgreSQL (database.url or database.existingSecret): each SQLite file has one writer" -}}
{{- end -}}
{{- if .Values.admin.enabled -}}
{{- if not .Values.admin.existingSecret -}}
{{- fail "admin.enabled needs admin.existingSecret: a Secret holding the admin API token (24+ characters, not a SCIM token) under admin.existingSecretKey" -}}
{{- end -}}
{{- $taken := list (int (include "airflow-scim-sync.scimPort" .)) (int (include "airflow-scim-sync.metricsPort" .)) -}}
{{- if eq .Values.mode "sidecar" }}{{ range .Values.sidecar.airflowPorts }}{{ $taken = append $taken (int .) }}{{ end }}{{ end -}}
{{- if has (int .Values.admin.port) $taken -}}
{{- fail (printf "admin.port %d is already used in the pod (SCIM, metrics or Airflow's own port): choose another" (int .Values.admin.port)) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The service's config.yaml, from .Values.config. Empty strings become null (the loader's "unset"). */}}
{{- define "airflow-scim-sync.configYaml" -}}
{{- $c := deepCopy .Values.config -}}
{{- $server := omit $c.server "publicUrl" -}}
{{- $_ := set $server "publicUrl" (ternary nil $c.server.publicUrl (eq $c.server.publicUrl "")) -}}
{{- $airflow := deepCopy $c.airflow -}}
{{- if eq .Values.mode "sidecar" -}}
{{- $_ := set $airflow "url" "http://localhost:8080" -}}
{{- else if eq $airflow.url "" -}}
{{- $_ := set $airflow "url" nil -}}
{{- end -}}
{{- $_ := set $c "server" $server -}}
{{- $_ := set $c "airflow" $airflow -}}
{{- if $c.notify -}}
{{- $hook := deepCopy (default dict $c.notify.webhook) -}}
{{- if eq (toString (default "" $hook.url)) "" -}}
{{- $_ := set $hook "url" nil -}}
{{- end -}}
{{- $_ := set $c "notify" (dict "webhook" $hook) -}}
{{- end -}}
# Rendered by the airflow-scim-sync chart from its values (config:). Merged over config/default.yaml;
# PORT, METRICS_PORT, the database (DATABASE_PATH, or DATABASE_URL and DATABASE_SCHEMA) and the credentials come
# from the environment.
{{ toYaml $c }}
{{- end -}}

{{/* Container env shared by the Deployment, the CronJob and the sidecar snippet. */}}
{{- define "airflow-scim-sync.env" -}}
- name: AIRFLOW_SCIM_CONFIG
  value: /etc/airflow-scim/config.yaml
{{- if include "airflow-scim-sync.postgres" . }}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "airflow-scim-sync.databaseSecretName" . }}
      key: {{ include "airflow-scim-sync.databaseSecretKey" . }}
- name: DATABASE_SCHEMA
  value: {{ .Values.database.schema | quote }}
{{- else }}
- name: DATABASE_PATH
  value: /data/airflow-scim.db
{{- end }}
- name: SCIM_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ include "airflow-scim-sync.secretName" . }}
      key: SCIM_TOKEN
      optional: true
- name: AIRFLOW_USERNAME
  valueFrom:
    secretKeyRef:
      name: {{ include "airflow-scim-sync.secretName" . }}
      key: AIRFLOW_USERNAME
      optional: true
{{- if or (eq .Values.mode "sidecar") .Values.config.airflow.url }}
- name: AIRFLOW_PASSWORD_FILE
  value: /var/run/secrets/airflow-scim/AIRFLOW_PASSWORD
{{- end }}
{{- if include "airflow-scim-sync.jwtSecret" . }}
- name: AIRFLOW_JWT_SECRET_FILE
  value: /var/run/secrets/airflow-scim/AIRFLOW_JWT_SECRET
- name: AIRFLOW_JWT_USER_ID
  valueFrom:
    secretKeyRef:
      name: {{ include "airflow-scim-sync.secretName" . }}
      key: AIRFLOW_JWT_USER_ID
{{- end }}
{{- end -}}

{{- define "airflow-scim-sync.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.securityContext.runAsUser }}
runAsGroup: {{ .Values.securityContext.runAsGroup }}
readOnlyRootFilesystem: true
allowPrivilegeEscalation: false
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "airflow-scim-sync.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.securityContext.runAsUser }}
runAsGroup: {{ .Values.securityContext.runAsGroup }}
fsGroup: {{ .Values.securityContext.fsGroup }}
fsGroupChangePolicy: OnRootMismatch
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "airflow-scim-sync.volumeMounts" -}}
{{- if not (include "airflow-scim-sync.postgres" .) -}}
- name: data
  mountPath: /data
{{ end -}}
- name: tmp
  mountPath: /tmp
- name: config
  mountPath: /etc/airflow-scim
  readOnly: true
- name: credentials
  mountPath: /var/run/secrets/airflow-scim
  readOnly: true
{{- end -}}

{{- define "airflow-scim-sync.volumes" -}}
{{- if not (include "airflow-scim-sync.postgres" .) -}}
- name: data
{{- if .Values.persistence.enabled }}
  persistentVolumeClaim:
    claimName: {{ include "airflow-scim-sync.claimName" . }}
{{- else }}
  emptyDir: {}
{{- end }}
{{ end -}}
- name: tmp
  emptyDir:
    sizeLimit: 64Mi
- name: config
  configMap:
    name: {{ include "airflow-scim-sync.configMapName" . }}
- name: credentials
  secret:
    secretName: {{ include "airflow-scim-sync.secretName" . }}
    defaultMode: 0440
    items:
      - key: AIRFLOW_PASSWORD
        path: AIRFLOW_PASSWORD
      {{- if include "airflow-scim-sync.jwtSecret" . }}
      - key: AIRFLOW_JWT_SECRET
        path: AIRFLOW_JWT_SECRET
      {{- end }}
    optional: true
{{- end -}}

{{/* resources without empty quantities (an empty cpu limit means no limit). */}}
{{- define "airflow-scim-sync.resources" -}}
{{- $out := dict -}}
{{- range $kind := list "requests" "limits" -}}
{{- $m := dict -}}
{{- range $k, $v := (index $.Values.resources $kind) -}}
{{- if ne (toString $v) "" }}{{ $_ := set $m $k $v }}{{ end -}}
{{- end -}}
{{- if $m }}{{ $_ := set $out $kind $m }}{{ end -}}
{{- end -}}
{{- toYaml $out -}}
{{- end -}}

{{/* Non-empty when the service signs its own Airflow 3 tokens (secret.airflowJwtSecret, or useJwtSecret with an existingSecret). */}}
{{- define "airflow-scim-sync.jwtSecret" -}}
{{- if or .Values.secret.useJwtSecret (and (not .Values.secret.existingSecret) .Values.secret.airflowJwtSecret) -}}
true
{{- end -}}
{{- end -}}

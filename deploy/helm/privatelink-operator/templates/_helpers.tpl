{{/*
Chart name, truncated to 63 characters (DNS label limit).
*/}}
{{- define "privatelink-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name of the namespaced objects. A release named after the chart (the
documented `helm install privatelink-operator ...`) gets exactly the chart name.
*/}}
{{- define "privatelink-operator.fullname" -}}
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

{{/*
Chart label value.
*/}}
{{- define "privatelink-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Common labels.
*/}}
{{- define "privatelink-operator.labels" -}}
helm.sh/chart: {{ include "privatelink-operator.chart" . }}
{{ include "privatelink-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: privatelink-operator
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Selector labels (immutable on the Deployment: never add to these).
*/}}
{{- define "privatelink-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "privatelink-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
ServiceAccount name.
*/}}
{{- define "privatelink-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default "privatelink-operator" .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Name of the cluster-scoped RBAC objects. They are cluster-wide: two releases
need different release names (or fullnameOverride) even in different namespaces.
*/}}
{{- define "privatelink-operator.clusterRoleName" -}}
{{- include "privatelink-operator.fullname" . }}
{{- end }}

{{/*
Container image reference.
*/}}
{{- define "privatelink-operator.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{/*
Name of the CRD, for resourceNames in RBAC.
*/}}
{{- define "privatelink-operator.crdName" -}}
vpcendpointservices.privatelink.alicloud.dev
{{- end }}

{{/*
Name of the consumer kind's CRD (VpcEndpoint, vpcEndpoints.enabled), for resourceNames in RBAC.
*/}}
{{- define "privatelink-operator.endpointCrdName" -}}
vpcendpoints.privatelink.alicloud.dev
{{- end }}

{{/*
RBAC rules of the operator for its namespaced work: the custom resources and
Events. In the ClusterRole by default, in a Role per namespace with
watchNamespaces.
*/}}
{{- define "privatelink-operator.namespacedRules" -}}
# The custom resource VpcEndpointService: watch, add/remove the finalizer, write
# status (SSA).
- apiGroups: ["privatelink.alicloud.dev"]
  resources: ["vpcendpointservices"]
  verbs: ["get", "list", "watch", "patch", "update"]
- apiGroups: ["privatelink.alicloud.dev"]
  resources: ["vpcendpointservices/status"]
  verbs: ["get", "patch", "update"]
# Needed where the OwnerReferencesPermissionEnforcement admission plugin is on.
- apiGroups: ["privatelink.alicloud.dev"]
  resources: ["vpcendpointservices/finalizers"]
  verbs: ["update"]
{{- if .Values.vpcEndpoints.enabled }}
# The consumer kind VpcEndpoint (vpcEndpoints.enabled, --vpc-endpoints): the
# same rights (watch, finalizer, status through SSA).
- apiGroups: ["privatelink.alicloud.dev"]
  resources: ["vpcendpoints"]
  verbs: ["get", "list", "watch", "patch", "update"]
- apiGroups: ["privatelink.alicloud.dev"]
  resources: ["vpcendpoints/status"]
  verbs: ["get", "patch", "update"]
- apiGroups: ["privatelink.alicloud.dev"]
  resources: ["vpcendpoints/finalizers"]
  verbs: ["update"]
{{- end }}
# Kubernetes Events (events.k8s.io/v1) from the shared Recorder.
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- if .Values.backendsFromServices.enabled }}
# spec.resources[].serviceRef: read the load balancer ID the cloud controller
# manager records on a Service of type LoadBalancer. Read-only.
- apiGroups: [""]
  resources: ["services"]
  verbs: ["get", "list", "watch"]
{{- end }}
{{- if .Values.exportToConfigMaps.enabled }}
# spec.exportTo (both kinds): the ConfigMap the operator creates and owns (it
# never overwrites one it does not own; it deletes only its own).
- apiGroups: [""]
  resources: ["configmaps"]
  verbs: ["get", "create", "patch", "delete"]
{{- end }}
{{- end }}

{{/*
The credentials Secrets rule (spec.credentialsSecretRef).
*/}}
{{- define "privatelink-operator.secretsRule" -}}
- apiGroups: [""]
  resources: ["secrets"]
  # get: read credentials; patch: the finalizer privatelink.alicloud.dev/credentials-in-use that
  # keeps a Secret until no object uses it (namespace deletion). Never list or watch.
  verbs: ["get", "patch"]
{{- end }}

{{/*
Value checks shared by several templates.
*/}}
{{- define "privatelink-operator.validate" -}}
{{- if and .Values.watchNamespaces .Values.watchNamespace }}
{{- fail "set watchNamespaces or watchNamespace, not both (watchNamespaces: [one] watches a single namespace)" }}
{{- end }}
{{- end }}

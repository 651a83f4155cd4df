// Patrol's default notification templates, English (`*.default.*`, Alertmanager's names, so
// configs that name them keep working) and Chinese (`*.zh-CN.*`). Each message shows the
// severity first, the alerts that fire and those that resolved with their summary, start time
// (in global.time_zone, `timeZone`) and duration, and links to the source, the dashboard, a
// prefilled silence form and (alerting.patrol.ack.links) the alert's acknowledgement. The HTML
// templates escape label and annotation values (Alertmanager renders HTML with html/template).

const common = `
{{ define "__patrol_time" }}{{ . | tz timeZone | date "2006-01-02 15:04:05 MST" }}{{ end }}
{{ define "__patrol_severity" }}{{ with .CommonLabels.severity }}{{ . | toUpper }}{{ else }}ALERT{{ end }}{{ end }}
{{ define "__patrol_group" }}{{ .GroupLabels.SortedPairs.Values | join " " }}{{ end }}
{{ define "__patrol_silence" }}{{ $f := "" }}{{ range $i, $p := .Labels.SortedPairs }}{{ if $i }}{{ $f = printf "%s," $f }}{{ end }}{{ $f = printf "%s%s=%q" $f $p.Name $p.Value }}{{ end }}{{ .URL }}/#/silences/new?filter={{ printf "{%s}" $f | urlquery }}{{ end }}
{{ define "__patrol_summary_html" }}{{ with .Annotations.summary }}{{ . | html }}{{ else }}{{ with .Annotations.description }}{{ . | html }}{{ else }}{{ .Labels.alertname | html }}{{ end }}{{ end }}{{ end }}
{{ define "__patrol_summary" }}{{ with .Annotations.summary }}{{ . }}{{ else }}{{ with .Annotations.description }}{{ . }}{{ else }}{{ .Labels.alertname }}{{ end }}{{ end }}{{ end }}
`;

const en = `
{{ define "__subject" }}[{{ .Status | toUpper }}{{ if eq .Status "firing" }}:{{ .Alerts.Firing | len }}{{ end }}] {{ template "__patrol_severity" . }} {{ template "__patrol_group" . }}{{ end }}
{{ define "__patrol_alert_text" }}- [{{ with .Labels.severity }}{{ . | toUpper }}{{ else }}ALERT{{ end }}] {{ .Labels.alertname }}: {{ template "__patrol_summary" . }}
  started {{ template "__patrol_time" .StartsAt }}{{ if eq .Status "firing" }}, firing for {{ .StartsAt | since | humanizeDuration }}{{ else }}, resolved {{ template "__patrol_time" .EndsAt }}{{ end }}
  labels: {{ range .Labels.SortedPairs }}{{ .Name }}={{ .Value }} {{ end }}
{{ if .GeneratorURL }}  source: {{ .GeneratorURL }}
{{ end }}{{ if .AckURL }}  acknowledge: {{ .AckURL }}
{{ end }}{{ end }}
{{ define "__patrol_text" }}{{ if .Alerts.Firing }}Firing ({{ len .Alerts.Firing }}):
{{ range .Alerts.Firing }}{{ template "__patrol_alert_text" . }}{{ end }}{{ end }}{{ if .Alerts.Resolved }}Resolved ({{ len .Alerts.Resolved }}):
{{ range .Alerts.Resolved }}{{ template "__patrol_alert_text" . }}{{ end }}{{ end }}Dashboard: {{ .ExternalURL }}
{{ end }}
{{ define "email.default.subject" }}{{ template "__subject" . }}{{ end }}
{{ define "email.default.text" }}{{ template "__patrol_text" . }}{{ end }}
{{ define "email.default.html" }}<!DOCTYPE html>
<html><head><meta charset="UTF-8"><title>{{ template "__subject" . }}</title></head>
<body style="font-family:Helvetica,Arial,sans-serif;font-size:14px">
<h2 style="color:{{ if eq .Status "firing" }}#c0392b{{ else }}#27ae60{{ end }}">{{ template "__subject" . }}</h2>
{{ if .Alerts.Firing }}<h3>Firing ({{ len .Alerts.Firing }})</h3><ul>{{ range .Alerts.Firing }}
<li><b>[{{ with .Labels.severity }}{{ . | toUpper }}{{ else }}ALERT{{ end }}] {{ .Labels.alertname | html }}</b>: {{ template "__patrol_summary_html" . }}<br>
started {{ template "__patrol_time" .StartsAt }}, firing for {{ .StartsAt | since | humanizeDuration }}<br>
{{ range .Labels.SortedPairs }}{{ .Name }}={{ .Value | html }} {{ end }}<br>
{{ if .GeneratorURL }}<a href="{{ .GeneratorURL }}">Source</a> · {{ end }}{{ if .AckURL }}<a href="{{ .AckURL }}">Acknowledge</a> · {{ end }}<a href="{{ template "__patrol_silence" (dict "URL" $.ExternalURL "Labels" .Labels) }}">Silence</a></li>{{ end }}
</ul>{{ end }}
{{ if .Alerts.Resolved }}<h3>Resolved ({{ len .Alerts.Resolved }})</h3><ul>{{ range .Alerts.Resolved }}
<li><b>{{ .Labels.alertname | html }}</b>: {{ template "__patrol_summary_html" . }}<br>
started {{ template "__patrol_time" .StartsAt }}, resolved {{ template "__patrol_time" .EndsAt }}</li>{{ end }}
</ul>{{ end }}
<p><a href="{{ .ExternalURL }}">Open Patrol</a></p>
</body></html>
{{ end }}
{{ define "slack.default.title" }}{{ template "__subject" . }}{{ end }}
{{ define "slack.default.username" }}Patrol{{ end }}
{{ define "slack.default.fallback" }}{{ template "__subject" . }}{{ end }}
{{ define "slack.default.titlelink" }}{{ .ExternalURL }}{{ end }}
{{ define "slack.default.text" }}{{ template "__patrol_text" . }}{{ end }}
{{ define "slack.default.footer" }}Patrol{{ end }}
{{ define "slack.default.pretext" }}{{ end }}
{{ define "slack.default.iconemoji" }}{{ end }}
{{ define "slack.default.iconurl" }}{{ end }}
{{ define "telegram.default.message" }}{{ template "__subject" . }}
{{ template "__patrol_text" . }}{{ end }}
{{ define "pagerduty.default.description" }}{{ template "__subject" . }}{{ end }}
{{ define "pagerduty.default.client" }}Patrol{{ end }}
{{ define "pagerduty.default.clientURL" }}{{ .ExternalURL }}{{ end }}
{{ define "pagerduty.default.instances" }}{{ range . }}{{ template "__patrol_alert_text" . }}{{ end }}{{ end }}
{{ define "msteamsv2.default.title" }}{{ template "__subject" . }}{{ end }}
{{ define "msteamsv2.default.text" }}{{ template "__patrol_text" . }}{{ end }}
{{ define "sms.default.text" }}[Patrol] {{ template "__subject" . }}: {{ range $i, $a := .Alerts.Firing }}{{ if $i }}; {{ end }}{{ template "__patrol_summary" $a }}{{ end }}{{ end }}
`;

const zh = `
{{ define "__subject_zh" }}[{{ if eq .Status "firing" }}告警:{{ .Alerts.Firing | len }}{{ else }}已恢复{{ end }}] {{ template "__patrol_severity" . }} {{ template "__patrol_group" . }}{{ end }}
{{ define "__patrol_alert_text_zh" }}- [{{ with .Labels.severity }}{{ . | toUpper }}{{ else }}ALERT{{ end }}] {{ .Labels.alertname }}：{{ template "__patrol_summary" . }}
  开始于 {{ template "__patrol_time" .StartsAt }}{{ if eq .Status "firing" }}，已持续 {{ .StartsAt | since | humanizeDuration }}{{ else }}，恢复于 {{ template "__patrol_time" .EndsAt }}{{ end }}
  标签：{{ range .Labels.SortedPairs }}{{ .Name }}={{ .Value }} {{ end }}
{{ if .GeneratorURL }}  来源：{{ .GeneratorURL }}
{{ end }}{{ if .AckURL }}  认领：{{ .AckURL }}
{{ end }}{{ end }}
{{ define "__patrol_text_zh" }}{{ if .Alerts.Firing }}告警中（{{ len .Alerts.Firing }}）：
{{ range .Alerts.Firing }}{{ template "__patrol_alert_text_zh" . }}{{ end }}{{ end }}{{ if .Alerts.Resolved }}已恢复（{{ len .Alerts.Resolved }}）：
{{ range .Alerts.Resolved }}{{ template "__patrol_alert_text_zh" . }}{{ end }}{{ end }}控制台：{{ .ExternalURL }}
{{ end }}
{{ define "email.zh-CN.subject" }}{{ template "__subject_zh" . }}{{ end }}
{{ define "email.zh-CN.text" }}{{ template "__patrol_text_zh" . }}{{ end }}
{{ define "email.zh-CN.html" }}<!DOCTYPE html>
<html><head><meta charset="UTF-8"><title>{{ template "__subject_zh" . }}</title></head>
<body style="font-family:'PingFang SC','Microsoft YaHei',sans-serif;font-size:14px">
<h2 style="color:{{ if eq .Status "firing" }}#c0392b{{ else }}#27ae60{{ end }}">{{ template "__subject_zh" . }}</h2>
{{ if .Alerts.Firing }}<h3>告警中（{{ len .Alerts.Firing }}）</h3><ul>{{ range .Alerts.Firing }}
<li><b>[{{ with .Labels.severity }}{{ . | toUpper }}{{ else }}ALERT{{ end }}] {{ .Labels.alertname | html }}</b>：{{ template "__patrol_summary_html" . }}<br>
开始于 {{ template "__patrol_time" .StartsAt }}，已持续 {{ .StartsAt | since | humanizeDuration }}<br>
{{ range .Labels.SortedPairs }}{{ .Name }}={{ .Value | html }} {{ end }}<br>
{{ if .GeneratorURL }}<a href="{{ .GeneratorURL }}">来源</a> · {{ end }}{{ if .AckURL }}<a href="{{ .AckURL }}">认领</a> · {{ end }}<a href="{{ template "__patrol_silence" (dict "URL" $.ExternalURL "Labels" .Labels) }}">静默</a></li>{{ end }}
</ul>{{ end }}
{{ if .Alerts.Resolved }}<h3>已恢复（{{ len .Alerts.Resolved }}）</h3><ul>{{ range .Alerts.Resolved }}
<li><b>{{ .Labels.alertname | html }}</b>：{{ template "__patrol_summary_html" . }}<br>
开始于 {{ template "__patrol_time" .StartsAt }}，恢复于 {{ template "__patrol_time" .EndsAt }}</li>{{ end }}
</ul>{{ end }}
<p><a href="{{ .ExternalURL }}">打开 Patrol</a></p>
</body></html>
{{ end }}
{{ define "slack.zh-CN.title" }}{{ template "__subject_zh" . }}{{ end }}
{{ define "slack.zh-CN.text" }}{{ template "__patrol_text_zh" . }}{{ end }}
{{ define "telegram.zh-CN.message" }}{{ template "__subject_zh" . }}
{{ template "__patrol_text_zh" . }}{{ end }}
{{ define "pagerduty.zh-CN.description" }}{{ template "__subject_zh" . }}{{ end }}
{{ define "msteamsv2.zh-CN.title" }}{{ template "__subject_zh" . }}{{ end }}
{{ define "msteamsv2.zh-CN.text" }}{{ template "__patrol_text_zh" . }}{{ end }}
{{ define "sms.zh-CN.text" }}【Patrol】{{ template "__subject_zh" . }}：{{ range $i, $a := .Alerts.Firing }}{{ if $i }}；{{ end }}{{ template "__patrol_summary" $a }}{{ end }}{{ end }}
`;

export const DEFAULT_TEMPLATES = common + en + zh;

/** The default template of `kind.field` in a language (`{{ template "email.zh-CN.html" . }}`). */
export function defaultTemplate(kind: string, field: string, language: 'en' | 'zh-CN' | undefined): string {
  return `{{ template "${kind}.${language === 'zh-CN' ? 'zh-CN' : 'default'}.${field}" . }}`;
}

#!/usr/bin/env node
// Writes the Grafana dashboards of this folder (`node deploy/grafana/generate.mjs`): one JSON file
// per dashboard, each reading a Prometheus data source (Patrol's address, e.g.
// http://127.0.0.1:9310) chosen by the `datasource` variable, and a `job` variable where the
// dashboard is per service. Edit the panels here, not in the JSON.
import { writeFileSync } from 'node:fs';

const DS = { type: 'prometheus', uid: '${datasource}' };

function dashboard(uid, title, panels, vars = []) {
  const laid = panels.map((p, i) => {
    const gridPos = { x: (i % 2) * 12, y: Math.floor(i / 2) * 8, w: 12, h: 8 };
    return {
      id: i + 1,
      type: p.type ?? 'timeseries',
      title: p.title,
      datasource: DS,
      gridPos,
      fieldConfig: { defaults: { unit: p.unit ?? 'short' }, overrides: [] },
      options: { legend: { displayMode: 'list', placement: 'bottom' }, tooltip: { mode: 'multi' } },
      targets: p.targets.map(([expr, legendFormat], j) => ({ refId: String.fromCharCode(65 + j), datasource: DS, expr, legendFormat })),
    };
  });
  return {
    uid,
    title,
    tags: ['patrol'],
    timezone: 'browser',
    schemaVersion: 39,
    version: 1,
    refresh: '30s',
    time: { from: 'now-1h', to: 'now' },
    templating: {
      list: [
        { name: 'datasource', label: 'Data source', type: 'datasource', query: 'prometheus', current: {} },
        ...vars.map(([name, metric]) => ({
          name,
          label: name,
          type: 'query',
          datasource: DS,
          query: { query: `label_values(${metric}, ${name})`, refId: 'vars' },
          definition: `label_values(${metric}, ${name})`,
          refresh: 2,
          includeAll: true,
          multi: true,
          current: {},
        })),
      ],
    },
    panels: laid,
  };
}

const job = 'job=~"$job"';
const dashboards = {
  'http-service': dashboard('patrol-http', 'HTTP services', [
    { title: 'Requests per second by code', targets: [[`sum by (job, code) (rate(http_requests_total{${job}}[$__rate_interval]))`, '{{job}} {{code}}']], unit: 'reqps' },
    { title: '5xx ratio', targets: [[`sum by (job) (rate(http_requests_total{${job}, code=~"5.."}[$__rate_interval])) / sum by (job) (rate(http_requests_total{${job}}[$__rate_interval]))`, '{{job}}']], unit: 'percentunit' },
    { title: 'Latency P50 / P99', targets: [
      [`histogram_quantile(0.5, sum by (job, le) (rate(http_request_duration_seconds_bucket{${job}}[$__rate_interval])))`, '{{job}} p50'],
      [`histogram_quantile(0.99, sum by (job, le) (rate(http_request_duration_seconds_bucket{${job}}[$__rate_interval])))`, '{{job}} p99'],
    ], unit: 's' },
    { title: 'P99 latency by route', targets: [[`histogram_quantile(0.99, sum by (job, route, le) (rate(http_request_duration_seconds_bucket{${job}}[$__rate_interval])))`, '{{job}} {{route}}']], unit: 's' },
    { title: 'Requests per second by route', targets: [[`sum by (job, route) (rate(http_requests_total{${job}}[$__rate_interval]))`, '{{job}} {{route}}']], unit: 'reqps' },
    { title: 'In-flight requests', targets: [[`sum by (job) (http_requests_in_flight{${job}})`, '{{job}}']] },
    { title: 'Response size (average)', targets: [[`sum by (job) (rate(http_response_size_bytes_sum{${job}}[$__rate_interval])) / sum by (job) (rate(http_response_size_bytes_count{${job}}[$__rate_interval]))`, '{{job}}']], unit: 'bytes' },
    { title: 'Scrape health (up)', targets: [[`up{${job}}`, '{{job}} {{instance}}']] },
  ], [['job', 'http_requests_total']]),
  'node-runtime': dashboard('patrol-node', 'Node.js runtime', [
    { title: 'Event-loop lag (P99)', targets: [[`nodejs_eventloop_lag_p99_seconds{${job}}`, '{{job}} {{instance}}']], unit: 's' },
    { title: 'Heap used / total', targets: [[`nodejs_heap_size_used_bytes{${job}}`, '{{job}} used'], [`nodejs_heap_size_total_bytes{${job}}`, '{{job}} total']], unit: 'bytes' },
    { title: 'Resident memory', targets: [[`process_resident_memory_bytes{${job}}`, '{{job}} {{instance}}']], unit: 'bytes' },
    { title: 'GC time per second by kind', targets: [[`sum by (job, kind) (rate(nodejs_gc_duration_seconds_sum{${job}}[$__rate_interval]))`, '{{job}} {{kind}}']], unit: 's' },
    { title: 'CPU (cores)', targets: [[`rate(process_cpu_seconds_total{${job}}[$__rate_interval])`, '{{job}} {{instance}}']] },
    { title: 'Active resources (handles, timers, requests)', targets: [[`nodejs_active_resources_total{${job}}`, '{{job}} {{instance}}']] },
  ], [['job', 'nodejs_heap_size_used_bytes']]),
  'go-runtime': dashboard('patrol-go', 'Go runtime', [
    { title: 'Goroutines', targets: [[`go_goroutines{${job}}`, '{{job}} {{instance}}']] },
    { title: 'Heap in use', targets: [[`go_memstats_heap_inuse_bytes{${job}}`, '{{job}} {{instance}}']], unit: 'bytes' },
    { title: 'Resident memory', targets: [[`process_resident_memory_bytes{${job}}`, '{{job}} {{instance}}']], unit: 'bytes' },
    { title: 'GC time per second', targets: [[`rate(go_gc_duration_seconds_sum{${job}}[$__rate_interval])`, '{{job}} {{instance}}']], unit: 's' },
    { title: 'CPU (cores)', targets: [[`rate(process_cpu_seconds_total{${job}}[$__rate_interval])`, '{{job}} {{instance}}']] },
    { title: 'Open file descriptors / limit', targets: [[`process_open_fds{${job}} / process_max_fds{${job}}`, '{{job}} {{instance}}']], unit: 'percentunit' },
  ], [['job', 'go_goroutines']]),
  host: dashboard('patrol-host', 'Hosts', [
    { title: 'CPU busy', targets: [['1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle", instance=~"$instance"}[$__rate_interval]))', '{{instance}}']], unit: 'percentunit' },
    { title: 'Load (1 min) per CPU', targets: [['node_load1{instance=~"$instance"} / on (instance) count by (instance) (node_cpu_seconds_total{mode="idle", instance=~"$instance"})', '{{instance}}']] },
    { title: 'Memory available', targets: [['node_memory_MemAvailable_bytes{instance=~"$instance"} / node_memory_MemTotal_bytes{instance=~"$instance"}', '{{instance}}']], unit: 'percentunit' },
    { title: 'Disk space used', targets: [['1 - node_filesystem_avail_bytes{instance=~"$instance", fstype!~"tmpfs|overlay"} / node_filesystem_size_bytes{instance=~"$instance", fstype!~"tmpfs|overlay"}', '{{instance}} {{mountpoint}}']], unit: 'percentunit' },
    { title: 'Network received / sent', targets: [
      ['sum by (instance) (rate(node_network_receive_bytes_total{instance=~"$instance", device!="lo"}[$__rate_interval]))', '{{instance}} in'],
      ['sum by (instance) (rate(node_network_transmit_bytes_total{instance=~"$instance", device!="lo"}[$__rate_interval]))', '{{instance}} out'],
    ], unit: 'Bps' },
    { title: 'Disk I/O time', targets: [['rate(node_disk_io_time_seconds_total{instance=~"$instance"}[$__rate_interval])', '{{instance}} {{device}}']], unit: 'percentunit' },
  ], [['instance', 'node_load1']]),
  probes: dashboard('patrol-probes', 'Probes', [
    { title: 'Probe success', targets: [['probe_success{probe=~"$probe"}', '{{probe}}']] },
    { title: 'Probe duration', targets: [['probe_duration_seconds{probe=~"$probe"}', '{{probe}}']], unit: 's' },
    { title: 'Availability over the range', targets: [['avg_over_time(probe_success{probe=~"$probe"}[$__range])', '{{probe}}']], unit: 'percentunit', type: 'bargauge' },
    { title: 'HTTP phases', targets: [['probe_http_duration_seconds{probe=~"$probe"}', '{{probe}} {{phase}}']], unit: 's' },
    { title: 'HTTP status code', targets: [['probe_http_status_code{probe=~"$probe"}', '{{probe}}']] },
    { title: 'Certificate expires in', targets: [['probe_ssl_earliest_cert_expiry{probe=~"$probe"} - time()', '{{probe}}']], unit: 's' },
  ], [['probe', 'probe_success']]),
};

for (const [name, d] of Object.entries(dashboards)) {
  writeFileSync(new URL(`${name}.json`, import.meta.url), JSON.stringify(d, null, 2) + '\n');
}
